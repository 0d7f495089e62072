"""Statistics of arrays and checkpoints, plan, check, diff, histograms; one worker pool."""
