"""The trust's race-equality risk on its board assurance framework (BAF), scored on the NHS 5×5 matrix."""
