"""The venue core: a deterministic state machine, `Engine.apply(command, ts) -> events`.

It knows nothing of FIX, sockets, threads or the clock (DESIGN §1); the gateway in `fixgw`
feeds it commands and turns its events into messages. Importing it first settles which
implementation runs (`engine.implementation`).
"""

from engine import implementation as implementation
