"""The same handler four ways: 1 DynamoDB UpdateItem + 1 SNS Publish per invocation."""
