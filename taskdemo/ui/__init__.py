"""The NiceGUI view of the simulator: one `Board` per browser tab, all showing the same run."""
