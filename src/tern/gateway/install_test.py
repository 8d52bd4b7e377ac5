#!/usr/bin/python3
"""tern installed, and a gateway interface built out of tree against it
(CTest: tern_gateway_install; about 30 s, most of it CMake and one compile).

1. `cmake --install BUILD --prefix TMP/prefix` (headers, libraries, tern,
   ternd, the CMake package);
2. examples/gateway-interface copied to TMP and built there with
   find_package(tern) from that prefix, with docs/gateway.md's commands
   (`cmake -B build -DCMAKE_PREFIX_PATH=PREFIX && cmake --build build`, in
   the copy);
3. TMP/prefix/bin/ternd on a free port (the one difference from the docs:
   gateway.toml's uri points at it), and, in the copy, `PREFIX/bin/tern
   gateway -c gateway.toml` loading the plug-in: its first status, a command
   and its reply, the new state, as docs/gateway.md shows them;
4. the plug-in refused when built for another ABI: a clear error, exit 1;
5. a program of its own (testdata/out_of_tree) built out of tree with
   find_package(tern), linking compiled tern libraries (tern::client,
   tern::gateway) with the flags tern was built with (the asan preset's
   sanitizers), publishing a status to that ternd.

  /usr/bin/python3 src/tern/gateway/install_test.py --build build/asan
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gateway_e2e_test import Broker, Gateway, Observer, Suite, free_port  # noqa: E402

SOURCE = os.path.normpath(os.path.join(HERE, "..", "..", ".."))


def run(s, name, argv, **kw):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)
    s.check(name, p.returncode == 0, "%s\n%s%s" % (" ".join(argv), p.stdout[-3000:], p.stderr[-3000:]))
    return p.returncode == 0


def cache_flags(build):
    """-D arguments for a project linking tern's static libraries: the flags tern was compiled with."""
    wanted = ("CMAKE_CXX_FLAGS", "CMAKE_EXE_LINKER_FLAGS")
    flags = []
    with open(os.path.join(build, "CMakeCache.txt")) as f:
        for line in f:
            name, _, value = line.rstrip("\n").partition("=")
            if name.split(":")[0] in wanted:
                flags.append("-D%s=%s" % (name.split(":")[0], value))
    return flags


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True, help="a configured and built tern build directory")
    args = ap.parse_args()
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "prefix")
        s = Suite(os.path.join(prefix, "bin", "tern"))
        ok = run(s, "cmake --install", ["cmake", "--install", args.build, "--prefix", prefix])
        ok = ok and os.path.exists(os.path.join(prefix, "lib", "cmake", "tern", "ternConfig.cmake"))
        example = os.path.join(tmp, "my-interface")
        shutil.copytree(os.path.join(SOURCE, "examples", "gateway-interface"), example)
        # docs/gateway.md's commands, as they are there, in the copy.
        ok = ok and run(s, "the template configures out of tree with find_package(tern)",
                        ["cmake", "-B", "build", "-DCMAKE_PREFIX_PATH=" + prefix], cwd=example)
        ok = ok and run(s, "the template builds", ["cmake", "--build", "build"], cwd=example)
        if ok:
            port = free_port()
            broker = Broker([os.path.join(prefix, "bin", "ternd"), "--port", str(port), "--storage", "memory"], port)
            try:
                # The example's own gateway.toml, pointed at this broker.
                config = os.path.join(example, "gateway.toml")
                with open(config) as f:
                    text = f.read()
                with open(config, "w") as f:
                    f.write(re.sub(r'uri = "[^"]*"', 'uri = "mqtt://127.0.0.1:%d"' % port, text))
                o = Observer(port, "obs-install", ["home/#"])
                time.sleep(0.2)
                g = Gateway(s.tern, example, "lamp2mqtt", port, None, config="gateway.toml", cwd=example)
                # The interface leaves the gateway level empty: "home/lighting//office/...".
                first = o.expect("home/lighting//office/lamp/lamp2mqtt/S")
                s.check("the plug-in runs: its first status", first is not None and first[1] == "light_off",
                        "%r\n%s" % (first, g.log()))
                o.publish("home/lighting/lamp2mqtt/office/lamp/me/C", "on")
                reply = o.expect("home/lighting/lamp2mqtt/office/lamp/me/S")
                s.check("a command and its reply", reply is not None
                        and reply[1] == '{"action":"light_on","reason":"switched on","response":"OK"}',
                        "%r\n%s" % (reply, g.log()))
                state = o.expect("home/lighting//office/lamp/lamp2mqtt/S")
                s.check("the new state", state is not None and state[1] == "light_on", "%r" % (state,))
                s.check("SIGTERM: exit 0", g.stop() == 0, g.log())
                o.close()

                # Built for another ABI: refused before anything in it runs.
                with open(os.path.join(example, "other_abi.cpp"), "w") as f:
                    f.write('#include "tern/gateway/plugin.hpp"\n'
                            'extern "C" __attribute__((visibility("default"))) const tern_gateway_plugin_record '
                            'tern_gateway_plugin = {TERN_GATEWAY_PLUGIN_ABI + 1, 0, 0, 0, "old", nullptr};\n')
                with open(os.path.join(example, "CMakeLists.txt"), "a") as f:
                    f.write("add_library(other_abi MODULE other_abi.cpp)\n"
                            "target_link_libraries(other_abi PRIVATE tern::gateway_plugin)\n"
                            'set_target_properties(other_abi PROPERTIES PREFIX "")\n')
                run(s, "a plug-in for another ABI builds", ["cmake", "--build", os.path.join(example, "build")])
                with open(config) as f:
                    c = f.read().replace("build/my_interface.so", "build/other_abi.so")
                with open(config, "w") as f:
                    f.write(c)
                p = subprocess.run([s.tern, "gateway", "-c", config], capture_output=True, text=True, timeout=30)
                s.check("a plug-in for another ABI is refused: exit 1, a clear error",
                        p.returncode == 1 and "built for the gateway plug-in ABI" in p.stderr
                        and "rebuild the plug-in against this tern" in p.stderr, "%d %s" % (p.returncode, p.stderr))

                # A program linking compiled tern libraries, built out of tree.
                program = os.path.join(tmp, "publish-status")
                shutil.copytree(os.path.join(HERE, "testdata", "out_of_tree"), program)
                built = run(s, "a program linking tern::client and tern::gateway configures out of tree",
                            ["cmake", "-S", program, "-B", os.path.join(program, "build"), "-G", "Ninja",
                             "-DCMAKE_PREFIX_PATH=" + prefix, "-DCMAKE_BUILD_TYPE=Release"]
                            + cache_flags(args.build))
                if built:
                    with open(os.path.join(program, "build", "CMakeCache.txt")) as f:
                        found = re.search(r"^tern_DIR:PATH=(.*)$", f.read(), re.M)
                    built = found is not None and found.group(1) == os.path.join(prefix, "lib", "cmake", "tern")
                    s.check("find_package(tern) found the installed package", built, "%r" % (found and found.group(1)))
                built = built and run(s, "it builds", ["cmake", "--build", os.path.join(program, "build")])
                if built:
                    o = Observer(port, "obs-program", ["+/+/+/+/+/+/S"])
                    time.sleep(0.2)
                    run(s, "it runs: connects, publishes, exit 0",
                        [os.path.join(program, "build", "publish_status"), "mqtt://127.0.0.1:%d" % port])
                    status = o.expect("///office/lamp/oot/S")
                    s.check("its status reaches a subscriber",
                            status is not None and status[1] == '{"action":"light_on","by":"out-of-tree"}', "%r" % (status,))
                    o.close()
            finally:
                broker.stop()
    print("%d checks, %d failed, %.1f s" % (s.count, s.failures, time.time() - start))
    return 1 if s.failures else 0


if __name__ == "__main__":
    sys.exit(main())
