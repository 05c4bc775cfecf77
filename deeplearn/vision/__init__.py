"""Convolutional networks of the lecture (LeNet-5, AlexNet, ZFNet, GoogLeNet, BN-Inception) and what they learn."""
