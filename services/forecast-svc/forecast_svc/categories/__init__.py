"""Forecast categories (预测类别): the stage → category mapping of the forecast principles."""
