"""Speed options that may change the result (bone windows, ROI): off unless the manifest or caller turns them on."""
