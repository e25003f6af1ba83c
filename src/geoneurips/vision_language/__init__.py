"""Vision-language family: remote-sensing vision-language benchmarks and text-to-image generation (NeurIPS 2024). Systems: vrsbench, mmmrs."""  # noqa: E501
