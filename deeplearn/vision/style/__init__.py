"""Style transfer (Gatys et al.), semantic style transfer / neural doodles (Champandard 2016) and fast feed-forward
stylization (Johnson et al. 2016), on the feature networks of `deeplearn.vision.features`."""
