"""Modbus TCP test peer (pymodbus): registers with a known pattern.

Usage: modbus_server.py PORT

Unit 1. Holding registers 0..99 hold 1000 + address, except 10..11, a writable float32
(big-endian words) starting at 1.0. Input register 0 counts up by one every 100 ms (printed as
'PUB counter N'). Coil 3 is 1. Input registers 100.. do not exist (reading them is an exception).
A write to the holding registers is printed as 'WRITE <address> <words...>'. Prints 'READY'.
"""

import asyncio
import struct
import sys

from pymodbus.datastore import ModbusServerContext, ModbusSequentialDataBlock
from pymodbus.server import StartAsyncTcpServer

try:
    from pymodbus.datastore import ModbusDeviceContext as DeviceContext
    DEVICE_KW = "devices"
except ImportError:  # pymodbus < 3.10
    from pymodbus.datastore import ModbusSlaveContext as DeviceContext
    DEVICE_KW = "slaves"


class LoggingBlock(ModbusSequentialDataBlock):
    def setValues(self, address, values):
        super().setValues(address, values)
        if not getattr(self, "quiet", False):
            print("WRITE", address - 1, *values, flush=True)


def main():
    port = int(sys.argv[1])
    holding = [1000 + a for a in range(100)]
    hi, lo = struct.unpack(">HH", struct.pack(">f", 1.0))
    holding[10], holding[11] = hi, lo
    hr = LoggingBlock(1, holding)  # pymodbus blocks store wire address a at index a + 1
    hr.quiet = True
    hr.setValues(1, holding)
    hr.quiet = False
    ir = ModbusSequentialDataBlock(1, [0] * 100)
    co = ModbusSequentialDataBlock(1, [0, 0, 0, 1] + [0] * 96)
    di = ModbusSequentialDataBlock(1, [0] * 100)
    dev = DeviceContext(di=di, co=co, hr=hr, ir=ir)
    ctx = ModbusServerContext(**{DEVICE_KW: {1: dev}}, single=False)

    async def run():
        async def count():
            n = 0
            while True:
                await asyncio.sleep(0.1)
                n += 1
                ir.setValues(1, [n % 65536])
                print(f"PUB counter {n % 65536}", flush=True)
        asyncio.get_running_loop().call_later(0.3, lambda: print("READY", flush=True))
        asyncio.create_task(count())
        await StartAsyncTcpServer(context=ctx, address=("127.0.0.1", port))

    asyncio.run(run())


main()
