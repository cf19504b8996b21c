"""The case tables that the tests of every backend share -- the CPU op tests
(test_conv2d.py, test_pool2d.py), the simulated CUDA kernels (test_sim_*.py) and the GPU tests
(test_cuda.py) -- and their pytest ids, so that one shape added here is run everywhere."""


def conv_id(c):
    return "N{}C{}H{}W{}K{}R{}S{}s{}p{}d{}g{}".format(*c).replace(" ", "")


def case_id(v):
    return "-".join("%s=%s" % (k, v[k]) for k in sorted(v)) if isinstance(v, dict) else str(v)


# (N, C, H, W, K, R, S, stride, padding, dilation, groups)
CASES = [
    (2, 3, 9, 11, 4, 3, 3, 1, 1, 1, 1),          # small, ragged everything
    (1, 1, 5, 5, 1, 3, 3, 1, 0, 1, 1),           # C = K = 1
    (2, 3, 17, 15, 8, 7, 7, 2, 3, 1, 1),         # 7x7/2 stem-like, C = 3
    (1, 3, 35, 35, 5, 11, 11, 4, 2, 1, 1),       # 11x11/4 AlexNet-like
    (2, 16, 9, 9, 20, 1, 1, 1, 0, 1, 1),         # 1x1 bottleneck
    (2, 16, 9, 9, 20, 1, 1, 2, 0, 1, 1),         # 1x1 stride 2
    (1, 40, 7, 7, 100, 3, 3, 1, 1, 1, 1),        # K > mc (96): two row blocks; C*R*S = 360 > kc
    (3, 8, 12, 10, 6, 2, 4, (2, 1), (1, 2), (2, 1), 1),  # even/non-square kernel, mixed args
    (2, 8, 10, 10, 12, 3, 3, 1, 2, 2, 1),        # dilation 2
    (2, 8, 9, 7, 12, 3, 3, 1, 1, 1, 4),          # groups
    (2, 6, 9, 9, 6, 3, 3, 1, 1, 1, 6),           # depthwise
    (2, 6, 9, 9, 12, 5, 5, 2, 2, 1, 6),          # depthwise multiplier 2, 5x5/2
    (1, 4, 8, 9, 5, 3, 3, 1, "same", 1, 1),
    (1, 4, 8, 9, 5, 4, 2, 1, "same", 1, 1),      # even kernel: asymmetric 'same' padding
    (1, 4, 8, 9, 5, 2, 3, 1, "same", (3, 2), 1),  # even kernel with dilation
    (2, 4, 8, 9, 5, 3, 3, 1, "valid", 1, 1),
    (4, 5, 24, 23, 7, 3, 3, 1, 1, 1, 1),         # N*P*Q > nc: several column chunks
    (2, 2, 40, 40, 3, 3, 3, 1, 0, 1, 1),         # long N*P*Q reduction: split-K wgrad
    (1, 3, 4, 4, 2, 4, 4, 1, 0, 1, 1),           # kernel = input: 1x1 output
    (2, 3, 3, 3, 2, 3, 3, 3, 1, 1, 1),           # stride > kernel span hits padding only rows
    (1, 1, 44, 44, 1, 9, 9, 1, 5, 1, 1),         # padding 5: short runs wholly in the left padding
]

# conv2d_bias_act's own: its two epilogues on the CPU and both simulated kernels, as CASES
FUSED_CASES = [
    (2, 3, 9, 11, 4, 3, 3, 1, 1, 1, 1),
    (2, 8, 9, 7, 12, 3, 3, 2, 1, 1, 4),
    (2, 16, 7, 9, 20, 1, 1, 1, 0, 1, 1),      # tensor cores in 16-bit types
    (1, 24, 11, 10, 72, 3, 3, 1, 1, 1, 1),    # tensor cores, several tiles
]

# (kernel, stride, padding, dilation, ceil_mode, input shape)
MAX_CONFIGS = [
    dict(k=2, s=None, p=0, d=1, ceil=False, shape=(2, 3, 8, 8)),          # classic 2x2/2
    dict(k=3, s=1, p=1, d=1, ceil=False, shape=(2, 3, 7, 9)),             # overlapping, same-size
    dict(k=3, s=2, p=1, d=1, ceil=False, shape=(2, 3, 7, 9)),             # overlapping, ResNet stem
    dict(k=(3, 2), s=(2, 1), p=(1, 1), d=1, ceil=False, shape=(2, 3, 7, 9)),   # non-square
    dict(k=(2, 4), s=(1, 3), p=(0, 2), d=1, ceil=False, shape=(1, 4, 5, 11)),  # non-square, stride != kernel
    dict(k=3, s=2, p=1, d=2, ceil=False, shape=(2, 3, 9, 9)),             # dilation
    dict(k=(2, 3), s=(3, 2), p=(1, 0), d=(2, 1), ceil=False, shape=(2, 2, 8, 7)),  # non-square dilation
    dict(k=3, s=2, p=0, d=1, ceil=True, shape=(2, 3, 6, 8)),              # ceil adds a window
    dict(k=2, s=2, p=1, d=1, ceil=True, shape=(2, 3, 5, 5)),              # ceil's extra window dropped
    dict(k=3, s=3, p=1, d=1, ceil=True, shape=(1, 3, 7, 11)),             # ceil, odd sizes
    dict(k=(2, 3), s=(2, 2), p=(1, 1), d=(2, 1), ceil=True, shape=(2, 2, 7, 8)),  # ceil + dilation
    dict(k=1, s=1, p=0, d=1, ceil=False, shape=(2, 3, 5, 4)),             # identity
    dict(k=(1, 3), s=(2, 1), p=(0, 1), d=1, ceil=False, shape=(2, 3, 5, 6)),
    dict(k=(7, 5), s=1, p=0, d=1, ceil=False, shape=(2, 3, 7, 5)),        # window = whole input
]

# (kernel, stride, padding, ceil_mode, input shape)
AVG_CONFIGS = [
    dict(k=2, s=None, p=0, ceil=False, shape=(2, 3, 8, 8)),
    dict(k=3, s=1, p=1, ceil=False, shape=(2, 3, 7, 9)),                  # overlapping, padded
    dict(k=3, s=2, p=1, ceil=False, shape=(2, 3, 7, 9)),
    dict(k=(3, 2), s=(2, 1), p=(1, 1), ceil=False, shape=(2, 3, 7, 9)),   # non-square
    dict(k=(2, 5), s=(1, 3), p=(0, 2), ceil=False, shape=(1, 4, 5, 11)),
    dict(k=3, s=2, p=0, ceil=True, shape=(2, 3, 6, 8)),                   # ceil adds a (partial) window
    dict(k=3, s=2, p=1, ceil=True, shape=(2, 3, 6, 6)),                   # ceil window over padding
    dict(k=2, s=2, p=1, ceil=True, shape=(2, 3, 5, 5)),                   # ceil's extra window dropped
    dict(k=(4, 3), s=(3, 2), p=(2, 1), ceil=True, shape=(1, 3, 7, 10)),
    dict(k=(1, 3), s=(2, 1), p=(0, 1), ceil=False, shape=(2, 3, 5, 6)),
    dict(k=(7, 5), s=1, p=0, ceil=False, shape=(2, 3, 7, 5)),              # window = whole input
]
DIVISORS = [None, 3, -2]

# (input shape, output_size)
ADAPTIVE_CASES = [
    ((2, 3, 8, 8), (4, 4)),          # divisible, smaller
    ((2, 3, 7, 9), (3, 4)),          # non-divisible, overlapping windows
    ((2, 3, 7, 9), (7, 9)),          # equal
    ((2, 3, 5, 4), (8, 11)),         # larger than the input
    ((2, 3, 7, 9), (1, 1)),          # global pooling
    ((2, 3, 7, 9), 1),               # global pooling, int
    ((2, 3, 10, 6), 4),              # int, mixed smaller / non-divisible
    ((2, 3, 7, 9), (None, 4)),       # None keeps the input size
    ((2, 3, 7, 9), (5, None)),
    ((2, 3, 7, 9), (None, None)),
    ((1, 5, 1, 13), (3, 2)),         # degenerate height
    ((2, 3, 13, 3), (6, 5)),         # smaller in one dim, larger in the other
]
