from app.db import orders


def test_total_is_the_sum_of_the_items(db):
    order_id = orders.insert(db, 1, [{"product_id": 1, "quantity": 2}, {"product_id": 2, "quantity": 1}])
    assert orders.total_cents(db, order_id) == 2 * 1200 + 2500


def test_new_orders_are_open(db):
    order_id = orders.insert(db, 1, [{"product_id": 1, "quantity": 1}])
    assert [row["id"] for row in orders.find_by_status(db, "open")] == [order_id]
