"""Reference data over FIX: the SecurityList (y) answering a SecurityListRequest (x).

FIX 4.4 has no field for an instrument's tick, its largest order or a price band, and a
client on a stock FIX 4.4 dictionary rejects fields its dictionary lacks. So the list uses
only standard fields — RoundLot(561) is the lot, MinTradeVol(562) the smallest order — and
states the rest in Text(58) as `key=value` pairs (see spec/README.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import quickfix as fix

from engine.model.instruments import NO_BAND, InstrumentState
from engine.model.values import ppm_to_percent
from fixgw.fix.messages import message


def describe(state: InstrumentState) -> str:
    spec = state.spec
    band = ppm_to_percent(state.band_ppm) if state.band_ppm != NO_BAND else "none"
    return (
        f"tick={format(spec.tick, 'f')} lot={format(spec.lot, 'f')} "
        f"min_qty={spec.qty_text(spec.min_qty)} max_qty={spec.qty_text(spec.max_qty)} "
        f"band_percent={band} base={spec.base_asset} status={state.status.name.lower()}"
    )


def security_list(
    request_id: str, instruments: Sequence[InstrumentState], perps: Mapping[str, str]
) -> fix.Message:
    """`perps`: each perpetual's index, mark and funding, added to its Text; a perpetual is
    SecurityType FUT with no maturity, ContractMultiplier 1 (its quantity is in the
    underlying) and its underlying named (UnderlyingSymbol, spec/README.md)."""
    msg = message(
        "y",
        [
            (320, request_id),
            (322, request_id),
            (560, "0"),
            (393, str(len(instruments))),
            (893, "Y"),
        ],
    )
    for state in instruments:
        spec = state.spec
        group = fix.Group(146, 55)
        fields = [
            (55, spec.symbol),
            (15, spec.quote_asset),
            (561, format(spec.lot, "f")),
            (562, spec.qty_text(spec.min_qty)),
            (58, describe(state) + perps.get(spec.symbol, "")),
        ]
        if spec.perpetual:
            fields[1:1] = [(167, "FUT"), (231, "1")]
        for tag, value in fields:
            group.setField(tag, value)
        msg.addGroup(group)
    return msg
