"""Forecasts of daily series (traffic, revenue, busy-hour load) beside a seasonal-naive baseline.

A library over numpy, pandas and statsmodels, with no service of its own: ``app.forecasts``
reads the marts, calls :func:`forecasting.series.forecast_series` and writes the tables.
"""
