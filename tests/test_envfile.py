"""One env-file format, three readers that agree: what write_env_file writes, read_env_file and
python-dotenv (pydantic-settings' reader, which load_ad_settings uses) read back exactly."""

from dotenv import dotenv_values

from extractors.settings import AdSettings
from watershed.envfile import read_env_file, write_env_file

VALUES = {
    "WATERSHED_ADS_META_ACCOUNT_IDS": '["1020304050607080"]',  # a JSON list, as a string
    "WATERSHED_ADS_GOOGLE_ROOTS_FILE": "/tmp/watershed fake tls/roots.pem",  # a space
    "WATERSHED_ADS_META_ACCESS_TOKEN": 'a "quoted" back\\slash',  # pragma: allowlist secret
}


def test_written_values_read_back_the_same_by_both_readers(tmp_path):
    path = tmp_path / "fake.env"
    write_env_file(path, VALUES)
    assert not (tmp_path / "fake.env.partial").exists()
    assert read_env_file(path) == VALUES
    assert dotenv_values(path) == VALUES
    settings = AdSettings(_env_file=path)  # type: ignore[call-arg]
    assert settings.meta_account_ids == ("1020304050607080",)
    assert str(settings.google_roots_file) == VALUES["WATERSHED_ADS_GOOGLE_ROOTS_FILE"]
    assert settings.meta_access_token.get_secret_value() == VALUES["WATERSHED_ADS_META_ACCESS_TOKEN"]
