"""How to read and build FIX messages in Python: typed QuickFIX fields against the
alternatives the gateway uses. Run with `make bench-micro`."""

from __future__ import annotations

from collections.abc import Callable

import quickfix as fix

from fixgw.fix.messages import message
from fixgw.fix.text import MessageFields, data_tags
from tests.support.launch import REPO

NOS = (
    "8=FIX.4.4\x019=0\x0135=D\x0134=2\x0149=CLIENT1\x0152=20261121-10:00:00.000\x01"
    "56=FIXGW\x0111=c-1\x0138=0.25\x0140=2\x0144=700000\x0154=1\x0155=BTC-HKD\x0159=1\x01"
    "60=20261121-10:00:00.000\x0110=000\x01"
)
TAGS = (11, 38, 40, 44, 54, 55, 59)
DATA_TAGS = data_tags(REPO / "spec" / "FIX44.xml")
ER = [
    (37, "17"),
    (11, "c-1"),
    (17, "42"),
    (150, "0"),
    (39, "0"),
    (55, "BTC-HKD"),
    (54, "1"),
    (38, "0.25"),
    (40, "2"),
    (44, "700000"),
    (59, "1"),
    (151, "0.25"),
    (14, "0"),
    (6, "0"),
    (60, "20261121-10:00:00.000"),
]
TYPED = [
    fix.OrderID,
    fix.ClOrdID,
    fix.ExecID,
    fix.ExecType,
    fix.OrdStatus,
    fix.Symbol,
    fix.Side,
    fix.OrderQty,
    fix.OrdType,
    fix.Price,
    fix.TimeInForce,
    fix.LeavesQty,
    fix.CumQty,
    fix.AvgPx,
    fix.TransactTime,
]


def incoming() -> fix.Message:
    msg = fix.Message()
    msg.setString(NOS, False)
    return msg


def test_read_typed_fields(benchmark: Callable[..., object]) -> None:
    msg = incoming()
    fields = (
        fix.ClOrdID(),
        fix.OrderQty(),
        fix.OrdType(),
        fix.Price(),
        fix.Side(),
        fix.Symbol(),
        fix.TimeInForce(),
    )

    def read() -> list[object]:
        out = []
        for f in fields:
            msg.getField(f)
            out.append(f.getValue())
        return out

    benchmark(read)


def test_read_plain_tags(benchmark: Callable[..., object]) -> None:
    msg = incoming()
    benchmark(lambda: [msg.getField(t) for t in TAGS])


def test_read_one_string_split(benchmark: Callable[..., object]) -> None:
    msg = incoming()

    def read() -> list[str | None]:
        fields = MessageFields(msg.toString(), DATA_TAGS)
        return [fields.get(t) for t in TAGS]

    benchmark(read)


def test_build_typed_fields(benchmark: Callable[..., object]) -> None:
    def build() -> fix.Message:
        msg = fix.Message()
        msg.getHeader().setField(fix.MsgType("8"))
        for field_type, (_, value) in zip(TYPED, ER, strict=True):
            if field_type in (fix.OrderQty, fix.Price, fix.LeavesQty, fix.CumQty, fix.AvgPx):
                msg.setField(field_type(float(value)))
            elif field_type is fix.TransactTime:
                msg.setField(field_type())
            else:
                msg.setField(field_type(value))
        return msg

    benchmark(build)


def test_build_plain_tags(benchmark: Callable[..., object]) -> None:
    benchmark(lambda: message("8", ER))


def test_build_from_one_string(benchmark: Callable[..., object]) -> None:
    def build() -> fix.Message:
        body = "".join(f"{t}={v}\x01" for t, v in ER)
        msg = fix.Message()
        msg.setString(f"8=FIX.4.4\x019=0\x0135=8\x01{body}10=000\x01", False)
        return msg

    benchmark(build)
