"""The master: owns listening sockets, spawns and supervises workers, reloads.

Stock asyncio only (pyroute2, used by VRRP, does not run under uvloop).
"""
