"""Graph family: road-network representation learning and decision-aware districting (NeurIPS 2024). Systems: garner, districtnet."""  # noqa: E501
