"""leedjax: LEED and ExprGAN facial expression editing in JAX/Flax.

  from leedjax import edit, load_editor
"""

__version__ = '0.1.0'

__all__ = ['Editor', 'ExprGANEditor', 'edit', 'edit_to_expression',
           'load_editor']


def __getattr__(name):
  # Lazy, so that `python -m leedjax.data.synthfaces` and the other tools do
  # not import the editor's networks and orbax first.
  if name in __all__:
    from leedjax import api  # pylint: disable=g-import-not-at-top
    return getattr(api, name)
  raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
