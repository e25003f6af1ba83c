"""Learning family: learning from long-tailed and sparsely labelled remote-sensing data (NeurIPS 2024). Systems: deblora, pecl."""  # noqa: E501
