# Cython declarations for the dataclasses of commands.py: compiled, each is a C struct
# with read-only attributes (a frozen dataclass either way).

cdef class NewOrder:
    cdef readonly object participant
    cdef readonly object client_order_id
    cdef readonly object symbol
    cdef readonly object side
    cdef readonly object order_type
    cdef readonly object time_in_force
    cdef readonly object qty
    cdef readonly object price
    cdef readonly object expire_time
    cdef readonly object post_only
    cdef readonly object reduce_only

cdef class CancelOrder:
    cdef readonly object participant
    cdef readonly object client_order_id
    cdef readonly object orig_client_order_id
    cdef readonly object order_id

cdef class ReplaceOrder:
    cdef readonly object participant
    cdef readonly object client_order_id
    cdef readonly object orig_client_order_id
    cdef readonly object qty
    cdef readonly object price
    cdef readonly object order_id

cdef class MassCancel:
    cdef readonly object participant
    cdef readonly object client_order_id
    cdef readonly object symbol
    cdef readonly object operator

cdef class EndOfDay:
    pass

cdef class ExpireOrders:
    pass

cdef class SetTradingStatus:
    cdef readonly object symbol
    cdef readonly object status
    cdef readonly object operator

cdef class SetPriceBand:
    cdef readonly object symbol
    cdef readonly object band_ppm
    cdef readonly object reference_price
    cdef readonly object operator

cdef class OperatorCancel:
    cdef readonly object order_id
    cdef readonly object operator

cdef class SetParticipantAccess:
    cdef readonly object participant
    cdef readonly object enabled
    cdef readonly object operator

cdef class SessionControl:
    cdef readonly object participant
    cdef readonly object action
    cdef readonly object operator
    cdef readonly object next_sender
    cdef readonly object next_target

cdef class MoveFunds:
    cdef readonly object participant
    cdef readonly object asset
    cdef readonly object amount
    cdef readonly object operator

cdef class MirrorDepth:
    cdef readonly object affiliate
    cdef readonly object symbol
    cdef readonly object side
    cdef readonly object levels

cdef class WithdrawMirror:
    cdef readonly object affiliate
    cdef readonly object reason

cdef class RouteFilled:
    cdef readonly object affiliate
    cdef readonly object route_id
    cdef readonly object qty
    cdef readonly object price
    cdef readonly object exec_id

cdef class RouteEnded:
    cdef readonly object affiliate
    cdef readonly object route_id
    cdef readonly object text

cdef class SetAffiliateAccess:
    cdef readonly object affiliate
    cdef readonly object enabled
    cdef readonly object operator

cdef class SettleAffiliate:
    cdef readonly object affiliate
    cdef readonly object operator
    cdef readonly object failure
