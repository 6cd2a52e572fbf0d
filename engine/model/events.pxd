# Cython declarations for the dataclasses of events.py: compiled, each is a C struct
# with read-only attributes (a frozen dataclass either way).

cdef class OrderAccepted:
    cdef readonly object ts
    cdef readonly object exec_id
    cdef readonly object order_id
    cdef readonly object participant
    cdef readonly object client_order_id
    cdef readonly object symbol
    cdef readonly object side
    cdef readonly object order_type
    cdef readonly object time_in_force
    cdef readonly object price
    cdef readonly object qty
    cdef readonly object expire_time
    cdef readonly object post_only

cdef class Rejected:
    cdef readonly object ts
    cdef readonly object exec_id
    cdef readonly object request
    cdef readonly object participant
    cdef readonly object client_order_id
    cdef readonly object order_id
    cdef readonly object code
    cdef readonly object text
    cdef readonly object order_status
    cdef readonly object orig_client_order_id

cdef class Fill:
    cdef readonly object exec_id
    cdef readonly object order_id
    cdef readonly object participant
    cdef readonly object client_order_id
    cdef readonly object side
    cdef readonly object cum_qty
    cdef readonly object leaves_qty
    cdef readonly object notional
    cdef readonly object status
    cdef readonly object order_qty
    cdef readonly object order_type
    cdef readonly object time_in_force
    cdef readonly object price

cdef class Trade:
    cdef readonly object ts
    cdef readonly object trade_id
    cdef readonly object symbol
    cdef readonly object price
    cdef readonly object qty
    cdef readonly object aggressor_side
    cdef readonly object maker_class
    cdef readonly object maker
    cdef readonly object taker
    cdef readonly object maker_fee
    cdef readonly object taker_fee

cdef class OrderCancelled:
    cdef readonly object ts
    cdef readonly object exec_id
    cdef readonly object order_id
    cdef readonly object participant
    cdef readonly object client_order_id
    cdef readonly object orig_client_order_id
    cdef readonly object symbol
    cdef readonly object side
    cdef readonly object qty
    cdef readonly object leaves_qty
    cdef readonly object cum_qty
    cdef readonly object notional
    cdef readonly object reason
    cdef readonly object status
    cdef readonly object order_qty
    cdef readonly object order_type
    cdef readonly object time_in_force
    cdef readonly object price
    cdef readonly object passed_affiliate_at

cdef class OrderReplaced:
    cdef readonly object ts
    cdef readonly object exec_id
    cdef readonly object order_id
    cdef readonly object participant
    cdef readonly object client_order_id
    cdef readonly object orig_client_order_id
    cdef readonly object symbol
    cdef readonly object side
    cdef readonly object price
    cdef readonly object qty
    cdef readonly object leaves_qty
    cdef readonly object cum_qty
    cdef readonly object notional
    cdef readonly object status

cdef class OrderExpired:
    cdef readonly object ts
    cdef readonly object exec_id
    cdef readonly object order_id
    cdef readonly object participant
    cdef readonly object client_order_id
    cdef readonly object symbol
    cdef readonly object side
    cdef readonly object qty
    cdef readonly object cum_qty
    cdef readonly object notional
    cdef readonly object order_qty
    cdef readonly object order_type
    cdef readonly object time_in_force
    cdef readonly object price

cdef class MassCancelDone:
    cdef readonly object ts
    cdef readonly object participant
    cdef readonly object client_order_id
    cdef readonly object symbol
    cdef readonly object affected

cdef class TradingStatusChanged:
    cdef readonly object ts
    cdef readonly object symbol
    cdef readonly object status

cdef class PriceBandChanged:
    cdef readonly object ts
    cdef readonly object symbol
    cdef readonly object reference_price
    cdef readonly object band_ppm

cdef class ParticipantAccessChanged:
    cdef readonly object ts
    cdef readonly object participant
    cdef readonly object enabled

cdef class SessionControlled:
    cdef readonly object ts
    cdef readonly object participant
    cdef readonly object action
    cdef readonly object next_sender
    cdef readonly object next_target

cdef class FundsMoved:
    cdef readonly object ts
    cdef readonly object participant
    cdef readonly object asset
    cdef readonly object amount
    cdef readonly object available

cdef class RouteSent:
    cdef readonly object ts
    cdef readonly object route_id
    cdef readonly object affiliate
    cdef readonly object symbol
    cdef readonly object side
    cdef readonly object price
    cdef readonly object qty
    cdef readonly object order_id
    cdef readonly object participant

cdef class RouteClosed:
    cdef readonly object ts
    cdef readonly object route_id
    cdef readonly object affiliate
    cdef readonly object filled
    cdef readonly object returned
    cdef readonly object text

cdef class MirrorShown:
    cdef readonly object ts
    cdef readonly object affiliate
    cdef readonly object symbol
    cdef readonly object side
    cdef readonly object levels

cdef class CancelPending:
    cdef readonly object ts
    cdef readonly object exec_id
    cdef readonly object order_id
    cdef readonly object participant
    cdef readonly object client_order_id
    cdef readonly object orig_client_order_id
    cdef readonly object symbol
    cdef readonly object side
    cdef readonly object qty
    cdef readonly object routed
    cdef readonly object cum_qty
    cdef readonly object notional
    cdef readonly object status
    cdef readonly object order_qty
    cdef readonly object order_type
    cdef readonly object time_in_force
    cdef readonly object price

cdef class AffiliateAccessChanged:
    cdef readonly object ts
    cdef readonly object affiliate
    cdef readonly object enabled
    cdef readonly object operator

cdef class CoverAlert:
    cdef readonly object ts
    cdef readonly object exposure
    cdef readonly object limit
    cdef readonly object raised

cdef class AffiliateSettled:
    cdef readonly object ts
    cdef readonly object affiliate
    cdef readonly object moves
    cdef readonly object operator
    cdef readonly object failure
