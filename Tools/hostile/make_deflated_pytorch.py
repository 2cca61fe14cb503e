#!/usr/bin/env python3
"""Rewrites Fixtures/pytorch/buffer_saved.pt with deflated members (stdlib zipfile only).

    python3 Tools/hostile/make_deflated_pytorch.py

- Fixtures/pytorch/deflated_members.pt: every member deflated (torch.save stores them; any zip
  tool may recompress). Same tensors as buffer_saved.pt.
- Fixtures/malformed/pytorch/huge_byteorder.pt and Fixtures/fuzz/crashes/pytorch/
  huge-deflated-byteorder: the `byteorder` record deflated from 'little' followed by 4 MiB of
  zeros (4 KB stored). Found by Tools/mutate_readers.py: Kiln decoded the inflated record after
  freeing it, so `kiln inspect` died of SIGSEGV; a byteorder record is now at most a few bytes and
  is read while its buffer lives.
"""
import zipfile
from pathlib import Path

repo = Path(__file__).resolve().parent.parent.parent
source = repo / 'Fixtures' / 'pytorch' / 'buffer_saved.pt'


def rewrite(target, byteorder=None):
    with zipfile.ZipFile(source) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, 'w') as out:
        for info, content in members:
            if byteorder is not None and info.filename.endswith('/byteorder'):
                content = byteorder
            entry = zipfile.ZipInfo(info.filename, date_time=(2026, 12, 5, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(entry, content, compresslevel=9)


rewrite(repo / 'Fixtures' / 'pytorch' / 'deflated_members.pt')
hostile = b'little' + bytes(4 << 20)
rewrite(repo / 'Fixtures' / 'malformed' / 'pytorch' / 'huge_byteorder.pt', hostile)
rewrite(repo / 'Fixtures' / 'fuzz' / 'crashes' / 'pytorch' / 'huge-deflated-byteorder', hostile)
