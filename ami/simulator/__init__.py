"""AMI simulator: an asyncio TCP server that speaks the Asterisk Manager Interface as
Asterisk 22 does and plays call scenarios captured from a real Asterisk.

Tests and the CRM demo use it instead of a real PBX. Every play gets fresh Uniqueids,
channel names, bridge ids and times, and the requested phone numbers and names, so
runs never collide. See ``traces/README.md`` for what each captured call contains.
"""

from ami.simulator.server import AmiSimulator, SimulatorNotStarted

__all__ = ["AmiSimulator", "SimulatorNotStarted"]
