"""The embedded data's sound font: found, checked, or a clear error."""

import pytest

from vocalsearch_tf.datasets.debian import package_root
from vocalsearch_tf.datasets.synthetic import soundfont


def test_the_font_in_use_is_fluidr3_with_its_checksum():
    path = soundfont.soundfont_path()
    assert path.name == "FluidR3_GM.sf2"
    assert soundfont._checked(path) == path


def test_another_file_in_the_fonts_place_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(soundfont, "FONT", "nowhere/usr/share/sounds/sf2/other.sf2")
    fake = package_root(tmp_path, soundfont.PACKAGE) / soundfont.FONT
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"RIFF not the font")
    with pytest.raises(ValueError, match="sha256"):
        soundfont.soundfont_path(tmp_path)


def test_a_missing_font_without_apt_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setattr(soundfont, "FONT", "nowhere/usr/share/sounds/sf2/FluidR3_GM.sf2")
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get, no dpkg-deb
    with pytest.raises(FileNotFoundError, match="apt-get install fluid-soundfont-gm"):
        soundfont.soundfont_path(tmp_path)
