"""Background work of a process: the live projection and the dial-timeout sweeper."""
