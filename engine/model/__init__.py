"""The venue's vocabulary: values, instruments, participants, commands, events, order records."""
