"""cvqncodec: a learned image codec implementing CVQN (channel-level variable quantization).

Zhong, Akutsu & Aizawa, "Channel-Level Variable Quantization Network for Deep Image Compression",
IJCAI 2020.
"""

__version__ = "0.2.0"
