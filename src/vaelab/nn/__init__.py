"""Building blocks: backbones (encoder/decoder pairs), conditioning and the data scaler. No losses,
no I/O.

Importing this package registers the backbones in :data:`vaelab.registry.ENCODERS` and
:data:`vaelab.registry.DECODERS`.
"""

from vaelab.nn.conditioning import Condition
from vaelab.nn.conv import ConvDecoder, ConvEncoder
from vaelab.nn.mlp import MLPDecoder, MLPEncoder
from vaelab.nn.recurrent import HarmonyDecoder, RNNDecoder, RNNEncoder
from vaelab.nn.scaling import Scaler

__all__ = ["Condition", "ConvDecoder", "ConvEncoder", "HarmonyDecoder", "MLPDecoder", "MLPEncoder",
           "RNNDecoder", "RNNEncoder", "Scaler"]
