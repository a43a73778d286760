"""Backtest reports and the live page: verdicts and alerts drawn as one HTML page."""
