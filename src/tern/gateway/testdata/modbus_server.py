#!/usr/bin/python3
"""A Modbus TCP server for the gateway's end-to-end test: pymodbus 3.0's
(Debian's python3-pymodbus, hence /usr/bin/python3), unit 1, 16 of each kind,
addresses from 0.

  /usr/bin/python3 modbus_server.py PORT

Its stdin changes values, one "KIND ADDRESS VALUE" a line (KIND: co, di,
hr, ir): what a device does by itself. It prints "ready" once listening.
"""
import asyncio
import sys
import threading

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartAsyncTcpServer

FUNCTION = {"co": 1, "di": 2, "hr": 3, "ir": 4}


def main():
    port = int(sys.argv[1])
    slave = ModbusSlaveContext(di=ModbusSequentialDataBlock(0, [0] * 16), co=ModbusSequentialDataBlock(0, [0] * 16),
                               hr=ModbusSequentialDataBlock(0, [0] * 16), ir=ModbusSequentialDataBlock(0, [0] * 16),
                               zero_mode=True)
    context = ModbusServerContext(slaves=slave, single=True)

    def changes():
        for line in sys.stdin:
            kind, address, value = line.split()
            slave.setValues(FUNCTION[kind], int(address), [int(value)])

    threading.Thread(target=changes, daemon=True).start()

    async def serve():
        server = StartAsyncTcpServer(context=context, address=("127.0.0.1", port), defer_start=True)
        server = await server if asyncio.iscoroutine(server) else server
        print("ready", flush=True)
        await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
