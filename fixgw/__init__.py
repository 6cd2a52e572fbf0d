"""The edge of the venue: the FIX gateway, its sequencer, the operators' desk and the CLI.

Importing `engine` first settles, for this package's compiled modules too, which
implementation runs (`engine.implementation`).
"""

import engine as engine
