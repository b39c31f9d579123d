"""Checks before queueing: rating models on implicit data, early stopping on metrics validation reports, K
above the number of items."""

from __future__ import annotations

import pytest

from recsys_core.data.schema import PreprocessConfig, SplitConfig
from recsys_core.data.store import DatasetStore
from recsys_core.data.synthetic import generate_synthetic
from recsys_core.errors import ConfigError
from recsys_core.evaluation.protocol import validator
from recsys_core.experiment import ExperimentSpec, prepare_from_frame
from recsys_core.models import create
from recsys_core.preflight import (
    DataSummary,
    check_spec,
    ranking_models,
    spec_problem,
    summarize_dataset,
    summarize_prepared,
    summarize_ref,
    validation_metrics,
)
from recsys_core.runs.jobs import dataset_ref

IMPLICIT = DataSummary("dataset 'qa_implicit'", has_rating=False, has_validation=True)
RATED = DataSummary("dataset 'qa_good'", has_rating=True, has_validation=True)


def test_rating_model_on_implicit_data_is_refused_with_the_ranking_models_to_choose():
    with pytest.raises(ConfigError) as err:
        check_spec(ExperimentSpec(model="biased_mf"), IMPLICIT)
    message = str(err.value)
    assert message.startswith("biased_mf learns from explicit ratings, but dataset 'qa_implicit' has none.")
    assert "Choose a ranking model (bpr, ease, ials, itemknn, mlp, popularity) or load data with ratings." in message
    assert err.value.field == "model"
    assert "biased_mf" not in ranking_models() and "bpr" in ranking_models()


def test_rating_model_on_rated_data_and_ranking_model_on_implicit_data_pass():
    check_spec(ExperimentSpec(model="biased_mf"), RATED)
    for name in ranking_models():
        check_spec(ExperimentSpec(model=name), IMPLICIT)
    # unknown facts are never held against a spec
    check_spec(ExperimentSpec(model="biased_mf", early_stopping="rmse"), DataSummary("file 'x.csv'"))


def test_mlp_with_mse_loss_needs_ratings():
    problem = spec_problem(ExperimentSpec(model="mlp", params={"loss": "mse"}), IMPLICIT)
    assert problem is not None and problem.field == "loss" and "loss=mse" in str(problem)
    assert spec_problem(ExperimentSpec(model="mlp", params={"loss": "auto"}), IMPLICIT) is None


def test_early_stopping_metric_must_be_one_validation_reports():
    assert validation_metrics("bpr", (20, 10)) == ["ndcg@10", "ndcg@20", "recall@10", "recall@20"]
    assert validation_metrics("biased_mf", (10,)) == ["rmse", "mae"]
    with pytest.raises(ConfigError) as err:
        check_spec(ExperimentSpec(model="bpr", ks=(10, 20), early_stopping="rmse"), IMPLICIT)
    assert "'rmse', which validation does not report for bpr" in str(err.value)
    assert "Monitor one of: ndcg@10, ndcg@20, recall@10, recall@20." in str(err.value)
    with pytest.raises(ConfigError, match="does not report"):
        check_spec(ExperimentSpec(model="biased_mf", early_stopping="ndcg@10"), RATED)
    check_spec(ExperimentSpec(model="bpr", ks=(10, 20), early_stopping="recall@20"), IMPLICIT)
    check_spec(ExperimentSpec(model="biased_mf", early_stopping="mae"), RATED)


def test_early_stopping_needs_a_validation_part():
    no_val = DataSummary("dataset 'd'", has_rating=True, has_validation=False)
    with pytest.raises(ConfigError, match="needs a validation part"):
        check_spec(ExperimentSpec(model="bpr", early_stopping="ndcg@10"), no_val)
    check_spec(ExperimentSpec(model="bpr"), no_val)


def test_bad_hyperparameters_and_cutoffs_are_refused():
    with pytest.raises(ConfigError, match="no hyperparameter"):
        check_spec(ExperimentSpec(model="bpr", params={"nope": 1}), RATED)
    with pytest.raises(ConfigError, match="cutoffs"):
        check_spec(ExperimentSpec(model="bpr", ks=()), RATED)
    with pytest.raises(ConfigError, match="Unknown model"):
        check_spec(ExperimentSpec(model="nope"), RATED)


@pytest.mark.parametrize(("model", "implicit"), [("bpr", True), ("biased_mf", False), ("mlp", False)])
def test_validation_metrics_match_what_the_validator_reports(model, implicit):
    syn = generate_synthetic(n_users=40, n_items=30, n_interactions=600, implicit=implicit, seed=3)
    data = prepare_from_frame(syn.interactions, split_config=SplitConfig(val_fraction=0.1, seed=1))
    m = create(model, device="cpu", seed=0, epochs=1)
    m.prepare(data.train)
    m.train_epoch(1)
    rating = m.task == "rating"
    reported = validator(data.train, data.val, ks=(5, 10), rating=rating)(m)
    assert sorted(reported) == sorted(validation_metrics(model, (5, 10)))


def test_summaries_of_saved_datasets_references_and_prepared_data():
    rated = generate_synthetic(n_users=30, n_items=20, n_interactions=300, seed=1)
    implicit = generate_synthetic(n_users=30, n_items=20, n_interactions=300, implicit=True, seed=1)
    DatasetStore().save("rated", rated.interactions)
    DatasetStore().save("clicks", implicit.interactions)
    s = summarize_dataset("clicks", split=SplitConfig(val_fraction=0.1))
    n = DatasetStore().info("clicks").n_items
    assert s == DataSummary("dataset 'clicks'", has_rating=False, has_validation=True, n_items=n)
    assert summarize_dataset("rated").has_rating and not summarize_dataset("rated").has_validation
    # an implicit threshold turns ratings into clicks
    thresholded = dataset_ref("rated", preprocess=PreprocessConfig(implicit_threshold=4.0))
    assert summarize_ref(thresholded).has_rating is False
    # a reference pinned to a version is judged by that version, even after the dataset is replaced
    pinned = dataset_ref("rated")
    DatasetStore().save("rated", implicit.interactions, overwrite=True)
    assert summarize_ref(pinned).has_rating is True and summarize_dataset("rated").has_rating is False
    assert summarize_ref({"kind": "file", "data": "x.csv", "split": {"val_fraction": 0.2}}) == DataSummary(
        "file 'x.csv'", has_rating=None, has_validation=True
    )
    with pytest.raises(ConfigError, match="No saved dataset"):
        summarize_dataset("missing")
    data = prepare_from_frame(implicit.interactions, split_config=SplitConfig(val_fraction=0.1, seed=1))
    assert summarize_prepared(data, "file 'c.csv'") == DataSummary("file 'c.csv'", False, True, data.train.n_items)


def test_the_command_line_refuses_a_run_that_can_only_fail(reclab_home, tmp_path, capsys):
    """`runs submit` and `train` check the spec against the data before queueing or training."""
    from recsys_core.cli import main
    from recsys_core.runs import RunStore

    syn = generate_synthetic(n_users=40, n_items=30, n_interactions=400, seed=3, implicit=True)
    DatasetStore().save("clicks", syn.interactions)
    code = main(["runs", "submit", "--dataset", "clicks", "--model", "biased_mf", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and "biased_mf learns from explicit ratings" in err and "clicks" in err
    assert RunStore(home=reclab_home).list() == []  # nothing was queued
    path = tmp_path / "clicks.csv"
    syn.interactions.to_csv(path, index=False)
    code = main(["train", "--data", str(path), "--model", "biased_mf", "--device", "cpu", "--no-record"])
    err = capsys.readouterr().err
    assert code == 2 and "biased_mf learns from explicit ratings" in err and "clicks.csv" in err


def test_a_cutoff_larger_than_the_number_of_items_is_refused():
    """QA round 2 #1: K=100 on 50 items trained, then failed in the evaluation."""
    small = DataSummary("dataset 'qa_good'", has_rating=True, has_validation=True, n_items=50)
    with pytest.raises(ConfigError) as err:
        check_spec(ExperimentSpec(model="popularity", ks=(10, 100)), small)
    assert str(err.value) == "K=100 is more than the 50 items in dataset 'qa_good'. Pick K ≤ 50."
    assert err.value.field == "ks"
    problem = spec_problem(ExperimentSpec(model="ease", ks=(20, 60, 100)), small)
    assert problem is not None and str(problem).startswith("K=60 and K=100 are more than the 50 items")
    check_spec(ExperimentSpec(model="popularity", ks=(10, 50)), small)  # K = n_items: every item ranked
    check_spec(ExperimentSpec(model="popularity", ks=(1000,)), RATED)  # an unknown item count is not held against it


def test_summaries_know_the_number_of_items_and_the_command_line_refuses_a_k_above_it(reclab_home, tmp_path, capsys):
    from recsys_core.cli import main
    from recsys_core.runs import RunStore

    syn = generate_synthetic(n_users=40, n_items=30, n_interactions=400, seed=3)
    DatasetStore().save("qa_good", syn.interactions)
    n = DatasetStore().info("qa_good").n_items
    assert summarize_dataset("qa_good").n_items == n
    assert summarize_ref(dataset_ref("qa_good")).n_items == n
    data = prepare_from_frame(syn.interactions, split_config=SplitConfig(seed=1))
    assert summarize_prepared(data).n_items == data.train.n_items

    code = main(["runs", "submit", "--dataset", "qa_good", "--model", "ease", "--k", "10", "100", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2 and f"K=100 is more than the {n} items in dataset 'qa_good'. Pick K ≤ {n}." in err
    assert RunStore(home=reclab_home).list() == []  # nothing was queued
    path = tmp_path / "good.csv"
    syn.interactions.to_csv(path, index=False)
    code = main(["train", "--data", str(path), "--model", "ease", "--k", "1000", "--device", "cpu", "--no-record"])
    err = capsys.readouterr().err
    assert code == 2 and "K=1000 is more than the" in err and "good.csv" in err
    assert "epoch" not in err  # refused before training
