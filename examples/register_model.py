"""Train a churn classifier on generated Telco-shaped data and register it in MLflow, as a data
scientist would: a run with the model, its signature and an input example.

    python examples/register_model.py [MODEL_NAME] [--seed N]

MLFLOW_TRACKING_URI names the server. Prints the registered version.
"""

from __future__ import annotations

import argparse

import mlflow
import mlflow.sklearn

from mlops_hooks.shared.domain import churn_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", nargs="?", default="churn-local", help="registered model name")
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated data")
    args = parser.parse_args()

    frame = churn_data.generate(3000, seed=args.seed)
    model = churn_data.train_classifier(frame)
    features = frame.drop(columns=["Churn"])
    mlflow.set_experiment(args.name)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=features.head(3),
            registered_model_name=args.name,
        )
    print(f"registered {args.name} v{info.registered_model_version}")


if __name__ == "__main__":
    main()
