"""From decoded events to drift verdicts: columns, windows, statistics, thresholds, monitors."""
