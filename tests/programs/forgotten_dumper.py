"""A program that never stops its dumper, then leaves the loop and lingers
for a while before exiting: the watchdog must not report the loop's silence
as a hang, and the process must exit cleanly. Usage: forgotten_dumper.py DIR
"""
import asyncio
import sys
import time

from aiowatchdog import hang_inspection

dumpers = []


async def main(directory):
    dumpers.append(hang_inspection.start(directory, interval=0.05))
    await asyncio.sleep(0.2)


asyncio.run(main(sys.argv[1]))
time.sleep(0.5)  # the loop is closed and collected: no heartbeat comes
print("exiting", flush=True)
