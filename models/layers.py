"""Convolution layer shapes of real CNNs (ResNet-50, VGG-16) for benchmarks.

Each shape is lowered to ``Y[p, k] = sum_t X[p, t] W[t, k]`` with ``P = Ho * Wo`` pixels,
``T = C * kh * kw`` and ``K`` kernels. ResNet-50 layers are listed once per distinct shape
(bottleneck blocks repeat them) and named after the first use.
"""

from __future__ import annotations

import dataclasses

__all__ = ["ConvLayer", "RESNET50", "RESNET50_CONVS", "VGG16", "LAYERS"]


@dataclasses.dataclass(frozen=True)
class ConvLayer:
    name: str
    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    out_size: int  # output height = width

    @property
    def pixels(self):
        return self.out_size * self.out_size

    @property
    def reduction(self):
        return self.in_channels * self.kernel * self.kernel

    @property
    def kernels(self):
        return self.out_channels

    @property
    def padding(self):
        return self.kernel // 2


RESNET50 = (
    ConvLayer("resnet50.conv1", 3, 64, 7, 2, 112),
    ConvLayer("resnet50.res2a.1x1a", 64, 64, 1, 1, 56),
    ConvLayer("resnet50.res2a.3x3", 64, 64, 3, 1, 56),
    ConvLayer("resnet50.res2a.1x1b", 64, 256, 1, 1, 56),
    ConvLayer("resnet50.res2b.1x1a", 256, 64, 1, 1, 56),
    ConvLayer("resnet50.res3a.3x3", 128, 128, 3, 2, 28),
    ConvLayer("resnet50.res3a.1x1b", 128, 512, 1, 1, 28),
    ConvLayer("resnet50.res3b.1x1a", 512, 128, 1, 1, 28),
    ConvLayer("resnet50.res4a.3x3", 256, 256, 3, 2, 14),
    ConvLayer("resnet50.res4a.1x1b", 256, 1024, 1, 1, 14),
    ConvLayer("resnet50.res4b.1x1a", 1024, 256, 1, 1, 14),
    ConvLayer("resnet50.res5a.3x3", 512, 512, 3, 2, 7),
    ConvLayer("resnet50.res5a.1x1b", 512, 2048, 1, 1, 7),
    ConvLayer("resnet50.res5b.1x1a", 2048, 512, 1, 1, 7),
)

def _bottleneck_stage(stage, blocks, in_channels, width, out_size, stride):
    """The convolutions of one ResNet-50 (v1.5) stage: the first block's 3x3 carries the
    stride and a strided 1x1 projection matches the shortcut."""
    out = []
    for b in range(blocks):
        name = f"resnet50.res{stage}{'abcdef'[b]}"
        first = b == 0
        size_in = out_size * stride if first else out_size
        c_in = in_channels if first else 4 * width
        out.append(ConvLayer(f"{name}.1x1a", c_in, width, 1, 1, size_in))
        out.append(ConvLayer(f"{name}.3x3", width, width, 3, stride if first else 1, out_size))
        out.append(ConvLayer(f"{name}.1x1b", width, 4 * width, 1, 1, out_size))
        if first:
            out.append(ConvLayer(f"{name}.proj", c_in, 4 * width, 1, stride, out_size))
    return out


#: All 53 convolutions of ResNet-50 (torchvision's v1.5: the stride on the 3x3), in order,
#: for a 224x224 image; the classifier (a fully connected layer) is not a convolution.
RESNET50_CONVS = tuple(
    [ConvLayer("resnet50.conv1", 3, 64, 7, 2, 112)]
    + _bottleneck_stage(2, 3, 64, 64, 56, 1)
    + _bottleneck_stage(3, 4, 256, 128, 28, 2)
    + _bottleneck_stage(4, 6, 512, 256, 14, 2)
    + _bottleneck_stage(5, 3, 1024, 512, 7, 2))

VGG16 = (
    ConvLayer("vgg16.conv1_1", 3, 64, 3, 1, 224),
    ConvLayer("vgg16.conv1_2", 64, 64, 3, 1, 224),
    ConvLayer("vgg16.conv2_1", 64, 128, 3, 1, 112),
    ConvLayer("vgg16.conv2_2", 128, 128, 3, 1, 112),
    ConvLayer("vgg16.conv3_1", 128, 256, 3, 1, 56),
    ConvLayer("vgg16.conv3_2", 256, 256, 3, 1, 56),
    ConvLayer("vgg16.conv4_1", 256, 512, 3, 1, 28),
    ConvLayer("vgg16.conv4_2", 512, 512, 3, 1, 28),
    ConvLayer("vgg16.conv5_1", 512, 512, 3, 1, 14),
)

LAYERS = {layer.name: layer for layer in RESNET50 + VGG16}
