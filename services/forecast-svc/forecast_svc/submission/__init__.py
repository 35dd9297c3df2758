"""Forecast submission level by level (逐层上报): records, adjustments, versions, channel forecasts, publishing."""
