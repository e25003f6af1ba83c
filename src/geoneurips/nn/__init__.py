"""Neural-network blocks shared by several systems (import torch: load lazily)."""
