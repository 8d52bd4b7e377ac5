#!/usr/bin/env python3
"""A device driver for tern's process interface, the smallest there is.

The gateway writes each command to this program's stdin as one JSON object per
line, and reads statuses from its stdout the same way:

  {"type": "command", "function": "", "gateway": "", "location": "Office",
   "device": "light1", "sender": "app", "action": "LIGHT_ON", "arguments": {"level": "80"}}

This one answers every command with its reply: the same message as a status,
with the argument "response": "OK". Its stderr goes to the gateway's log.
"""
import json
import sys

print("echo driver ready", file=sys.stderr, flush=True)
for line in sys.stdin:
    message = json.loads(line)
    message["type"] = "status"
    message["arguments"]["response"] = "OK"
    print(json.dumps(message), flush=True)
