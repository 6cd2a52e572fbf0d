"""Derive the venue's FIX 4.4 dictionary from the standard one shipped with quickfix.

The venue accepts every standard message type (so an unsupported one reaches the
application and is answered with a BusinessMessageReject, as FIX prescribes), but only the
enum values it implements for the fields it reads: QuickFIX then refuses, say, a stop order
(OrdType=3) with a session-level Reject naming the tag, before the gateway sees it.

    python spec/build_dictionary.py   # rewrites spec/FIX44.xml
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

STANDARD = Path(sys.prefix) / "share" / "quickfix" / "FIX44.xml"
VENUE = Path(__file__).resolve().parent / "FIX44.xml"

# tag -> the values the venue implements (see spec/README.md)
SUPPORTED_VALUES = {
    "Side": {"1", "2"},
    "OrdType": {"1", "2"},
    "TimeInForce": {"0", "1", "3", "4", "6"},
    "ExecInst": {"6", "E"},
    "SubscriptionRequestType": {"0", "1", "2"},
    "MDUpdateType": {"0", "1"},
    "MDEntryType": {"0", "1", "2", "3", "6"},
    "MassCancelRequestType": {"1", "7"},
    "MassStatusReqType": {"1", "7"},
    "SecurityListRequestType": {"0", "4"},
}


def build(standard: Path = STANDARD) -> ET.ElementTree:
    tree = ET.parse(standard)
    fields = tree.getroot().find("fields")
    assert fields is not None
    for field in fields.findall("field"):
        allowed = SUPPORTED_VALUES.get(field.get("name", ""))
        if allowed is None:
            continue
        for value in field.findall("value"):
            if value.get("enum") not in allowed:
                field.remove(value)
        missing = allowed - {v.get("enum") for v in field.findall("value")}
        if missing:
            raise SystemExit(f"{field.get('name')}: {sorted(missing)} not in the standard")
    ET.indent(tree, space=" ")
    return tree


if __name__ == "__main__":
    build().write(VENUE, encoding="unicode", xml_declaration=False)
    print(f"wrote {VENUE}")
