"""Funnel health (销售漏斗健康度: norms, daily stage snapshots, ratings), quota attainment and accuracy."""
