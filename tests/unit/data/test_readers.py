"""read_table and load_interactions: every input kind, format, compression, encoding and reading error."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.data import readers
from recsys_core.data.load import LoadedData, load_interactions
from recsys_core.data.readers import read_table
from recsys_core.data.schema import ColumnMapping
from recsys_core.errors import ConfigError, DataError

RATINGS_CSV = b"userId,movieId,rating,timestamp\n1,10,4.0,964982703\n1,20,3.5,964981247\n2,10,5.0,964982224\n"
U_DATA = b"196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n244\t51\t2\t880606923\n"
RATINGS_DAT = b"1::1193::5::978300760\n1::661::3::978302109\n2::914::3::978301968\n3::3408::4::978300275\n"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return buffer.getvalue()


class FakeUpload(io.BytesIO):
    """What Streamlit's UploadedFile looks like to us: a BytesIO with .name and .size."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name
        self.size = len(data)


# ---------------------------------------------------------------------------------------------- formats


def test_csv_with_header_from_path(tmp_path: Path) -> None:
    df, info = read_table(write(tmp_path, "ratings.csv", RATINGS_CSV))
    assert list(df.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert df["userId"].dtype == np.int64 and df["rating"].dtype == np.float64
    assert df["timestamp"].tolist() == [964982703, 964981247, 964982224]
    assert isinstance(df.index, pd.RangeIndex)
    assert (info.source, info.format, info.delimiter, info.has_header) == ("ratings.csv", "csv", ",", True)
    assert (info.encoding, info.compression, info.n_rows, info.n_bytes) == ("utf-8", None, 3, len(RATINGS_CSV))


@pytest.mark.parametrize("delimiter", ["\t", ";", "|"])
def test_other_delimiters_are_sniffed(tmp_path: Path, delimiter: str) -> None:
    data = RATINGS_CSV.replace(b",", delimiter.encode())
    df, info = read_table(write(tmp_path, "r.txt", data))
    assert info.delimiter == delimiter
    assert df.shape == (3, 4) and df["movieId"].tolist() == [10, 20, 10]


def test_semicolon_file_with_decimal_commas_keeps_semicolon(tmp_path: Path) -> None:
    data = b"user;item;rating\n1;2;3,5\n2;3;4,5\n3;1;1,0\n"
    df, info = read_table(write(tmp_path, "eu.csv", data))
    assert info.delimiter == ";" and df["rating"].tolist() == ["3,5", "4,5", "1,0"]


def test_runs_of_spaces(tmp_path: Path) -> None:
    data = b"user   item  rating\n1      10    4\n2      11    3\n 3     12    5\n"
    df, info = read_table(write(tmp_path, "aligned.txt", data))
    assert info.delimiter == r"\s+" and df["item"].tolist() == [10, 11, 12]


def test_movielens_u_data_without_header(tmp_path: Path) -> None:
    df, info = read_table(write(tmp_path, "u.data", U_DATA))
    assert list(df.columns) == ["user", "item", "rating", "timestamp"]
    assert (info.format, info.has_header, info.delimiter) == ("movielens-100k", False, "\t")
    assert df["user"].tolist() == [196, 186, 22, 244]


def test_movielens_ratings_dat_double_colon(tmp_path: Path) -> None:
    df, info = read_table(write(tmp_path, "ratings.dat", RATINGS_DAT))
    assert (info.format, info.delimiter, info.has_header) == ("movielens-dat", "::", False)
    assert list(df.columns) == ["user", "item", "rating", "timestamp"]
    assert df["item"].tolist() == [1193, 661, 914, 3408]
    assert df["timestamp"].dtype == np.int64


def test_double_colon_split_across_read_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # a '::' cut in half by a chunk boundary must still become one delimiter
    monkeypatch.setattr(readers, "_CHUNK", 3)
    stream = readers._ReplacingReader(io.BytesIO(b"1::2::3\n44::5:::6\n"), b"::", b"\x1f")
    assert stream.read() == b"1\x1f2\x1f3\n44\x1f5\x1f:6\n"


def test_ratings_csv_layout_and_string_ids(tmp_path: Path) -> None:
    data = b"user_id,item_id,rating\nalice,book-1,5\nbob,book-2,3\ncarol,book-1,4\n"
    df, _ = read_table(write(tmp_path, "s.csv", data))
    assert pd.api.types.is_string_dtype(df["user_id"]) and df["item_id"].tolist() == ["book-1", "book-2", "book-1"]


def test_parquet_from_path_and_bytes(tmp_path: Path) -> None:
    frame = pd.DataFrame({"user": [1, 2, 3], "item": ["a", "b", "c"], "when": pd.to_datetime(["2024-01-01"] * 3)})
    path = tmp_path / "x.parquet"
    frame.to_parquet(path)
    for source in (path, path.read_bytes()):
        df, info = read_table(source, name="x.parquet")
        assert info.format == "parquet" and df["item"].tolist() == ["a", "b", "c"]
        assert pd.api.types.is_datetime64_any_dtype(df["when"])


def test_json_lines_and_json_array(tmp_path: Path) -> None:
    rows = [{"user": 1, "item": "x", "rating": 4.5}, {"user": 2, "item": "y", "rating": 3.0}]
    jsonl = "\n".join(json.dumps(r) for r in rows).encode()
    df, info = read_table(jsonl, name="events.jsonl")
    assert info.format == "jsonl" and df["item"].tolist() == ["x", "y"]
    df, info = read_table(json.dumps(rows).encode(), name="events.json")
    assert info.format == "json" and df["rating"].tolist() == [4.5, 3.0]
    df, info = read_table(b"\xef\xbb\xbf" + jsonl, name="bom.jsonl")
    assert info.encoding == "utf-8-sig" and len(df) == 2


def test_gzip_from_path_and_bytes(tmp_path: Path) -> None:
    data = gzip.compress(RATINGS_CSV)
    for source in (write(tmp_path, "ratings.csv.gz", data), data):
        df, info = read_table(source, name="ratings.csv.gz")
        assert info.compression == "gzip" and info.n_bytes == len(data) and len(df) == 3


def test_zip_with_one_file(tmp_path: Path) -> None:
    df, info = read_table(zipped({"ratings.csv": RATINGS_CSV}), name="r.zip")
    assert info.compression == "zip" and info.source == "r.zip/ratings.csv" and len(df) == 3


def test_zip_of_a_movielens_folder_picks_the_ratings(tmp_path: Path) -> None:
    archive = zipped(
        {
            "ml-100k/README": b"MovieLens",
            "ml-100k/u.data": U_DATA,
            "ml-100k/u.item": b"1|Toy Story (1995)|01-Jan-1995||http://x|0\n",
            "ml-100k/u1.base": U_DATA,
            "__MACOSX/ml-100k/._u.data": b"\x00\x05\x16\x07",
            "ml-100k/.DS_Store": b"\x00\x00",
        }
    )
    df, info = read_table(write(tmp_path, "ml-100k.zip", archive))
    assert info.source == "ml-100k.zip/ml-100k/u.data" and info.format == "movielens-100k" and len(df) == 4


def test_ambiguous_zip_lists_the_members() -> None:
    archive = zipped({"a.csv": RATINGS_CSV, "b.csv": RATINGS_CSV, "README.md": b"x"})
    with pytest.raises(DataError) as err:
        read_table(archive, name="two.zip")
    assert err.value.code == "ambiguous_archive"
    assert "a.csv" in err.value.message and "b.csv" in err.value.message and "upload" in err.value.hint.lower()


def test_bytes_path_and_file_like_give_the_same_frame(tmp_path: Path) -> None:
    path = write(tmp_path, "ratings.csv", RATINGS_CSV)
    from_path, _ = read_table(path)
    from_bytes, info_b = read_table(RATINGS_CSV, name="ratings.csv")
    upload = FakeUpload(RATINGS_CSV, "my upload.csv")
    from_upload, info_u = read_table(upload)
    pd.testing.assert_frame_equal(from_path, from_bytes)
    pd.testing.assert_frame_equal(from_path, from_upload)
    assert info_b.source == "ratings.csv" and info_u.source == "my upload.csv"
    assert not upload.closed  # the caller's object stays usable


def test_non_seekable_stream() -> None:
    class Pipe:
        def __init__(self, data: bytes) -> None:
            self._inner = io.BytesIO(data)

        def read(self, n: int = -1) -> bytes:
            return self._inner.read(n)

    df, _ = read_table(Pipe(RATINGS_CSV), name="pipe.csv")
    assert len(df) == 3


# ---------------------------------------------------------------------------------------------- encoding


def test_utf8_bom_and_utf16_bom() -> None:
    df, info = read_table(b"\xef\xbb\xbf" + RATINGS_CSV, name="bom.csv")
    assert df.columns[0] == "userId" and info.encoding == "utf-8-sig"
    df, info = read_table(RATINGS_CSV.decode().encode("utf-16"), name="u16.csv")
    assert info.encoding == "utf-16" and df["movieId"].tolist() == [10, 20, 10]


def test_latin1_text_is_decoded_and_recorded() -> None:
    data = "user,item,title\n1,2,Amélie\n2,3,Léon\n".encode("latin-1")
    df, info = read_table(data, name="latin.csv")
    assert info.encoding == "cp1252" and df["title"].tolist() == ["Amélie", "Léon"]


def test_latin1_byte_after_an_ascii_sample_falls_back(tmp_path: Path) -> None:
    lines = [f"{k},{k % 7},plain" for k in range(20_000)] + ["20000,3,Pokémon"]
    data = ("user,item,title\n" + "\n".join(lines) + "\n").encode("latin-1")
    assert len(data) > readers.SAMPLE_BYTES
    df, info = read_table(write(tmp_path, "late.csv", data))
    assert info.encoding == "cp1252" and df["title"].iloc[-1] == "Pokémon"


def test_binary_garbage_is_an_encoding_error() -> None:
    garbage = bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8))
    with pytest.raises(DataError) as err:
        read_table(garbage, name="photo.jpg")
    assert err.value.code == "encoding" and err.value.file == "photo.jpg" and "UTF-8" in err.value.hint


def test_invalid_utf16_is_an_encoding_error() -> None:
    bad = b"\xff\xfe" + "user,item\n1,2\n".encode("utf-16-le") + b"\x00\xd8\x41"  # lone surrogate, odd tail
    with pytest.raises(DataError) as err:
        read_table(bad, name="u16.csv")
    assert err.value.code == "encoding" and "UTF-16" in err.value.what


# ---------------------------------------------------------------------------------------------- headers & dtypes


def test_headerless_numeric_file_gets_generic_names(tmp_path: Path) -> None:
    df, info = read_table(write(tmp_path, "x.csv", U_DATA.replace(b"\t", b",")))
    assert list(df.columns) == ["col_1", "col_2", "col_3", "col_4"] and not info.has_header


def test_header_of_words_above_codes_is_detected() -> None:
    df, info = read_table(b"cust,prod\nc1,p9\nc2,p7\nc3,p1\n", name="x.csv")
    assert info.has_header and list(df.columns) == ["cust", "prod"]


def test_has_header_override() -> None:
    df, info = read_table(b"1,2\n3,4\n", name="x.csv", has_header=True)
    assert info.has_header and list(df.columns) == ["1", "2"] and len(df) == 1


def test_value_that_breaks_the_sniffed_type_is_kept_as_text(tmp_path: Path) -> None:
    # the sample (first 64 KB) says numeric; row 30,001 says otherwise: no crash, the column stays text
    lines = [f"{k % 100},{k % 37},{k % 5 + 1},{1_600_000_000 + k}" for k in range(30_000)]
    lines.append("7,8,abc,1600030000")
    path = write(tmp_path, "late-bad.csv", ("user,item,rating,timestamp\n" + "\n".join(lines) + "\n").encode())
    df, _ = read_table(path)
    assert df["rating"].iloc[-1] == "abc" and df["user"].dtype == np.int64
    with pytest.raises(DataError) as err:
        load_interactions(path)
    assert err.value.code == "bad_rating" and err.value.rows == [30_001]
    assert err.value.sample[0]["rating"] == "abc" and "row 30001" in err.value.message


def test_leading_zero_codes_stay_text() -> None:
    df, _ = read_table(b"user,item\n007,1\n010,2\n", name="x.csv")
    assert df["user"].tolist() == ["007", "010"]


def test_usecols_reads_only_those_columns_and_names_missing_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", RATINGS_CSV)
    df, _ = read_table(path, usecols=["userId", "movieId"])
    assert list(df.columns) == ["userId", "movieId"]
    with pytest.raises(DataError) as err:
        read_table(path, usecols=["userId", "nope"])
    assert err.value.code == "missing_column" and err.value.column == "nope" and "movieId" in err.value.hint


# ---------------------------------------------------------------------------------------------- errors


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        read_table(write(tmp_path, "empty.csv", b""))
    assert err.value.code == "empty_file" and err.value.file == "empty.csv"
    with pytest.raises(DataError) as err:
        read_table(b"  \n\n \t\n", name="blank.csv")
    assert err.value.code == "empty_file"


def test_header_only_is_no_rows() -> None:
    with pytest.raises(DataError) as err:
        read_table(b"user,item,rating\n", name="h.csv")
    assert err.value.code == "no_rows" and "header" in err.value.what


def test_extra_field_names_the_line(tmp_path: Path) -> None:
    data = b"user,item,rating\n1,2,3\n2,3,4\n3,4,5,6\n4,5,1\n"
    with pytest.raises(DataError) as err:
        read_table(write(tmp_path, "bad.csv", data))
    e = err.value
    assert (
        e.code == "unreadable"
        and "Line 4 of the file (data row 3) has 4 fields, but the lines before it have 3 fields" in e.what
    )
    assert e.rows == [3] and "bad.csv" in e.message


def test_too_large_says_size_limit_and_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DataError) as err:
        read_table(RATINGS_CSV, name="big.csv", max_bytes=10)
    assert err.value.code == "too_large" and "RECLAB_MAX_UPLOAD_MB" in err.value.hint and "by path" in err.value.hint
    monkeypatch.setenv("RECLAB_MAX_UPLOAD_MB", "0.00001")  # about 10 bytes
    with pytest.raises(DataError) as err:
        read_table(write(tmp_path, "big.csv", RATINGS_CSV))
    assert err.value.code == "too_large" and "MB" in err.value.what
    monkeypatch.setenv("RECLAB_MAX_UPLOAD_MB", "lots")
    with pytest.raises(ConfigError):
        read_table(RATINGS_CSV)


def test_missing_path_and_bad_format_option(tmp_path: Path) -> None:
    with pytest.raises(DataError) as err:
        read_table(tmp_path / "nope.csv")
    assert err.value.code == "not_found"
    with pytest.raises(ConfigError):
        read_table(RATINGS_CSV, format="xlsx")


def test_broken_json_lines_names_the_row() -> None:
    data = b'{"user": 1, "item": 2}\n{"user": 2, "item": 3}\n{"user": 3, "item"\n'
    with pytest.raises(DataError) as err:
        read_table(data, name="e.jsonl")
    assert err.value.code == "unreadable" and err.value.rows == [3]


# ---------------------------------------------------------------------------------------------- load_interactions


def test_load_interactions_end_to_end(tmp_path: Path) -> None:
    loaded = load_interactions(write(tmp_path, "ratings.csv", RATINGS_CSV))
    assert isinstance(loaded, LoadedData)
    assert loaded.mapping == ColumnMapping("userId", "movieId", "rating", "timestamp")
    assert list(loaded.frame.columns) == ["user", "item", "rating", "timestamp"]
    assert loaded.frame["rating"].dtype == np.float32 and loaded.info.n_rows == 3
    assert list(loaded.preview.columns) == ["userId", "movieId", "rating", "timestamp"]
    assert loaded.detection.reasons["user"]


def test_load_interactions_with_full_mapping_reads_only_those_columns(tmp_path: Path) -> None:
    data = b"uid,iid,stars,price,note\n1,10,4,9.5,x\n2,11,3,1.0,y\n3,10,5,2.0,z\n"
    path = write(tmp_path, "wide.csv", data)
    loaded = load_interactions(path, mapping=ColumnMapping("uid", "iid", "stars"))
    assert list(loaded.preview.columns) == ["uid", "iid", "stars"] and loaded.frame["rating"].tolist() == [4, 3, 5]
    with pytest.raises(DataError) as err:
        load_interactions(path, mapping=ColumnMapping("uid", "item_id"))
    assert err.value.code == "missing_column" and err.value.column == "item_id" and "'iid'" in err.value.hint


def test_parquet_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    pd.DataFrame({"user": [1, 2], "item": [3, 4]}).to_parquet(path)
    with pytest.raises(DataError) as err:
        read_table(path, usecols=["user", "rating"])
    assert err.value.code == "missing_column" and err.value.column == "rating"
    with pytest.raises(DataError) as err:
        read_table(path.read_bytes()[:-30], name="cut.parquet")
    assert err.value.code == "unreadable" and err.value.file == "cut.parquet"


def test_excel_workbook_is_refused_with_a_hint() -> None:
    workbook = zipped({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>", "xl/sheet1.xml": b"<x/>"})
    with pytest.raises(DataError) as err:
        read_table(workbook, name="ratings.xlsx")
    assert err.value.code == "unreadable" and "CSV" in err.value.hint


def test_load_interactions_implicit_log_with_partial_mapping() -> None:
    data = b"visitor,sku,ts\nv1,s1,2024-05-01T10:00:00Z\nv2,s2,2024-05-01T11:00:00Z\nv1,s2,2024-05-02T00:00:00Z\n"
    loaded = load_interactions(data, name="clicks.csv", mapping={"timestamp": None})
    assert "rating" not in loaded.frame.columns and "timestamp" not in loaded.frame.columns
    loaded = load_interactions(data, name="clicks.csv")
    assert loaded.frame["timestamp"].tolist() == [1714557600, 1714561200, 1714608000]


def test_load_interactions_headerless_file_without_id_columns_is_no_header() -> None:
    with pytest.raises(DataError) as err:
        load_interactions(b"0.5,0.25\n0.75,0.125\n0.3,0.6\n", name="floats.csv")
    assert err.value.code == "no_header" and "user,item,rating,timestamp" in err.value.hint


# ---------------------------------------------------------------------------------------------- shared data


@pytest.mark.shared_data
def test_shared_ml100k_u_data(shared_data: Path) -> None:
    path = shared_data / "ml-100k" / "u.data"
    if not path.exists():
        pytest.skip("ml-100k/u.data not present")
    loaded = load_interactions(path)
    frame = loaded.frame
    assert len(frame) == 100_000 and frame["user"].nunique() == 943 and frame["item"].nunique() == 1_682
    assert loaded.info.format == "movielens-100k" and not loaded.warnings


@pytest.mark.shared_data
def test_shared_ml_latest_small_ratings(shared_data: Path) -> None:
    path = shared_data / "ml-latest-small" / "ratings.csv"
    if not path.exists():
        pytest.skip("ml-latest-small/ratings.csv not present")
    frame = load_interactions(path).frame
    assert len(frame) == 100_836 and frame["user"].nunique() == 610 and frame["item"].nunique() == 9_724


def test_parquet_dtypes_match_pandas(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "user": np.arange(6, dtype=np.int64),
            "item": np.arange(6, dtype=np.uint16),
            "rating": np.linspace(1, 5, 6, dtype=np.float32),
            "score": [1.0, None, 2.0, 3.0, 4.0, 5.0],  # a float column with a null
            "count": pd.array([1, None, 2, 3, 4, 5], dtype="Int64"),  # an integer column with a null
            "tag": list("abcdef"),
            "flag": [True, False] * 3,
        },
        index=pd.Index([10, 11, 12, 13, 14, 15], name="row"),  # a stored index is not data
    )
    path = tmp_path / "x.parquet"
    frame.to_parquet(path, row_group_size=4)  # two row groups
    expected = pd.read_parquet(path).reset_index(drop=True)
    df, _ = read_table(path)
    pd.testing.assert_frame_equal(df, expected)
    df, _ = read_table(path.read_bytes(), name="x.parquet", usecols=["rating", "tag", "user"])
    pd.testing.assert_frame_equal(df, expected[["rating", "tag", "user"]])
    df.loc[0, "user"] = 99  # the frame is the caller's to change
    assert df.loc[0, "user"] == 99


def test_a_line_longer_than_the_csv_field_limit_is_a_data_error_naming_the_line() -> None:
    """Sniffing splits sample lines with the csv module, whose fields stop at 128 KB: a 2 MB line must still
    end in a DataError with the line, not the csv module's own error."""
    data = b"user,item,rating\n" + b",".join(str(i).encode() for i in range(300_000)) + b"\n"
    with pytest.raises(DataError) as err:
        load_interactions(data, name="huge_line.csv")
    assert err.value.file == "huge_line.csv"
    assert "Line 2 of the file (data row 1) has 300,000 fields, but the lines before it have 3 fields" in str(err.value)
    one_field = b"user,item,rating\n1,2,3\n" + b"x" * 200_000 + b"\n4,5,3\n"
    with pytest.raises(DataError) as err:
        load_interactions(one_field, name="t.csv")
    assert err.value.rows == [2]


def test_a_one_column_file_and_an_empty_file_say_what_is_wrong_for_any_front_end(tmp_path):
    # QA round 2: the command line was told to "Upload a file" and to give --item-col for a one-column file
    with pytest.raises(DataError) as err:
        load_interactions(b"user\n1\n2\n", name="one.csv")
    assert "only one column ('user')" in err.value.message and "--item-col" not in str(err.value)
    with pytest.raises(DataError) as err:
        load_interactions(write(tmp_path, "empty.csv", b""))
    assert "Upload" not in str(err.value) and "at least one interaction row" in err.value.hint
