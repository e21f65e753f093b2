"""Design notes: what the code cites exists, and the docs' links resolve."""

import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
DESIGN = REPO / 'docs' / 'design.md'
# Where code, configs and docs live (not virtual environments or builds).
SCANNED = ('leedjax', 'configs', 'tests', 'launch', 'notebooks', 'docs',
           '.ci', 'README.md', 'setup.cfg', 'pyproject.toml')
# The founders' notes outside the repository, spelled so that this file
# does not cite them itself.
FOUNDERS_NOTES = 'DESIGN' + '.md'
# `docs/design.md, <section>`: the section may follow on the next comment
# line; a quote may open it; `<...>` is a placeholder, not a citation.
CITATION = re.compile(r'docs/design\.md,[\s#"]*([^<\s].{0,119})', re.DOTALL)
# What may follow a cited section name.
SECTION_END = set(')"\'.,;:`') | {''}


def _scanned_files():
  for name in SCANNED:
    path = REPO / name
    candidates = [path] if path.is_file() else sorted(path.rglob('*'))
    for candidate in candidates:
      if candidate.is_file() and '__pycache__' not in candidate.parts:
        try:
          yield candidate, candidate.read_text(encoding='utf-8')
        except UnicodeDecodeError:
          continue  # binary (PNG, npz)


def _headings(markdown: str) -> list[str]:
  return [line.lstrip('#').strip() for line in markdown.splitlines()
          if re.match(r'#{1,6} ', line)]


def _named_section(text_after: str, headings: list[str]) -> str | None:
  """The heading a citation names: one the text starts with, followed by
  punctuation or the end (so 'LEED objective' matches no heading)."""
  text = re.sub(r'\s*\n\s*(#\s*)?', ' ', text_after)
  for heading in sorted(headings, key=len, reverse=True):
    if text.startswith(heading) and text[len(heading):][:1] in SECTION_END:
      return heading
  return None


def test_the_design_notes_are_in_the_repository():
  assert DESIGN.is_file()
  headings = _headings(DESIGN.read_text(encoding='utf-8'))
  assert len(headings) == len(set(headings)), 'two sections share a name'
  for cited_by_code in ('Stages', 'LEED objectives', 'Editing'):
    assert cited_by_code in headings


def test_nothing_cites_the_founders_notes_outside_the_repository():
  if (REPO / FOUNDERS_NOTES).exists():
    pytest.skip(f'{FOUNDERS_NOTES} is in the repository')
  citing = [f'{path.relative_to(REPO)}:{text[:match].count(chr(10)) + 1}'
            for path, text in _scanned_files()
            for match in (m.start() for m in re.finditer(
                re.escape(FOUNDERS_NOTES), text))]
  assert not citing, (f'{FOUNDERS_NOTES} is not in the repository; cite '
                      f'docs/design.md instead: {citing}')


def test_every_cited_section_of_the_design_notes_exists():
  headings = _headings(DESIGN.read_text(encoding='utf-8'))
  citations, unknown = 0, []
  for path, text in _scanned_files():
    for match in CITATION.finditer(text):
      citations += 1
      if _named_section(match.group(1), headings) is None:
        line = text[:match.start()].count('\n') + 1
        unknown.append(f'{path.relative_to(REPO)}:{line}: '
                       f'{match.group(0).splitlines()[0]}')
  assert citations >= 3  # the scan finds the code's citations
  assert not unknown, (f'cited sections missing from docs/design.md (its '
                       f'headings: {headings}): {unknown}')


def test_a_section_must_be_named_exactly():
  headings = ['LEED networks', 'LEED objectives', 'Stages']
  assert _named_section('LEED objectives):', headings) == 'LEED objectives'
  assert _named_section('Stages.', headings) == 'Stages'
  assert _named_section('LEED\n  #   objectives)', headings) == (
      'LEED objectives')
  assert _named_section('LEED objective)', headings) is None
  assert _named_section('Stage)', headings) is None
  assert _named_section('Stages of LEED)', headings) is None


@pytest.mark.parametrize('document', ['README.md', 'docs/design.md',
                                      'docs/status.md'])
def test_relative_links_of_the_docs_resolve(document):
  path = REPO / document
  links = re.findall(r'\]\(([^)\s]+)\)', path.read_text(encoding='utf-8'))
  local = [link.split('#')[0] for link in links
           if not re.match(r'[a-z]+:', link) and not link.startswith('#')]
  missing = [link for link in local if not (path.parent / link).exists()]
  assert not missing, f'{document} links to missing files: {missing}'
