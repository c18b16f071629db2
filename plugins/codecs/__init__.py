"""Built-in codecs: encode keypoints into training targets and decode model output to keypoints.

Every codec works on batches of torch tensors, creates its tensors on the input's device, and uses
input-pixel coordinates with pixel centres at integers (pixel ``i`` covers ``[i - 0.5, i + 0.5)``).
"""
