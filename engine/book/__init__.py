"""The order book: price levels, priority classes and time queues, compiled and as a pure twin."""
