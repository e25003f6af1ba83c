"""SolarCube (NeurIPS 2024 D&B): solar radiation forecasting from geostationary data cubes."""
