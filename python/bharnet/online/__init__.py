"""bharnet.online: online detection around the SDK's events (sdk/events.py): ground-truth files of
continuous recordings (annotations.py), scoring events against them (scoring.py), the timeline
plot (plot.py) and `bharnet detect` / `bharnet eval-online` (cli.py). NumPy only; no torch."""
