"""Every response body form of contract §7, and what is not one."""

from __future__ import annotations

import pytest

from sms_pipeline.outcomes import ProviderStatus
from sms_pipeline.retarus.bodies import UnexpectedBody, job_id, report

JOB = "J.20221116-102407.583-0lajfsfmoXIZJO93PQ"


@pytest.mark.parametrize(
    "body", [JOB, f"  {JOB}\n", f"jobId={JOB}", f"jobid={JOB}\n", f'{{"jobId": "{JOB}"}}', f'{{"JobID":"{JOB}"}}']
)
def test_job_id_forms(body: str) -> None:
    assert job_id(body) == JOB


def test_job_id_ending_in_at_sign() -> None:
    assert job_id("abc+/=@") == "abc+/=@"


@pytest.mark.parametrize("body", ["", "two words", "{}", '{"jobId": 5}', "<html>", "{broken", "jobId="])
def test_bad_job_id_bodies(body: str) -> None:
    with pytest.raises(UnexpectedBody):
        job_id(body)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("DONE SUC_FIN", ("DONE", "SUC_FIN")),
        ("DONE;SUC_FIN", ("DONE", "SUC_FIN")),
        ("DONE,SUC_FIN", ("DONE", "SUC_FIN")),
        ("DONE|SUC_FIN", ("DONE", "SUC_FIN")),
        ("  done ; suc_fin \n", ("DONE", "SUC_FIN")),
        ("OPEN", ("OPEN", "")),
        ("OPEN;", ("OPEN", "")),
        ("processStatus=DONE&status=SUC_ACC", ("DONE", "SUC_ACC")),
        ("processStatus=OPEN&status=", ("OPEN", "")),
        ("processStatus=RUNNING\nstatus=\n", ("RUNNING", "")),
        ('{"processStatus": "DONE", "status": "FAILED_FIN"}', ("DONE", "FAILED_FIN")),
        ('{"processStatus": "OPEN"}', ("OPEN", "")),
        ('{"processStatus": "OPEN", "status": null}', ("OPEN", "")),
        ('[{"processStatus": "CANCELED", "status": "NOT_ACC_REC"}]', ("CANCELED", "NOT_ACC_REC")),
    ],
)
def test_report_forms(body: str, expected: tuple[str, str]) -> None:
    assert report(body) == ProviderStatus(*expected)


@pytest.mark.parametrize(
    "body", ["", "<html>oops</html>", "a b c", "[]", "{}", '{"processStatus": 1}', "[1]", "x" * 5000, "DONE SUC-FIN"]
)
def test_unexpected_report_bodies_raise_a_clean_error(body: str) -> None:
    with pytest.raises(UnexpectedBody) as raised:
        report(body)
    assert len(str(raised.value)) < 200
