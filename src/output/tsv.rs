//! `-o tsv`: for shells, like `az -o tsv` (the rules are in [`super`]'s documentation).

use serde_json::Value;

pub fn tsv(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Array(rows) => {
            let mut columns = None;
            rows.iter()
                .for_each(|row| tsv_list_row(row, &mut columns, &mut out));
        }
        row => tsv_row(row, &mut out),
    }
    out
}

/// A row of a list: an object's values in the order of `columns`, the keys of the list's first
/// object (set from this row if it is that one), so that every row has the same columns; a key
/// the row lacks is an empty field, a key the first object lacked is not printed. Other rows
/// print as [`tsv_row`].
pub fn tsv_list_row(row: &Value, columns: &mut Option<Vec<String>>, out: &mut String) {
    let Value::Object(members) = row else {
        return tsv_row(row, out);
    };
    let columns = columns.get_or_insert_with(|| members.keys().cloned().collect());
    let fields = columns
        .iter()
        .map(|key| members.get(key).unwrap_or(&Value::Null));
    tsv_fields(fields, out);
    out.push('\n');
}

pub fn tsv_row(row: &Value, out: &mut String) {
    match row {
        Value::Object(members) => tsv_fields(members.values(), out),
        Value::Array(items) => tsv_fields(items.iter(), out),
        scalar => tsv_field(scalar, out),
    }
    out.push('\n');
}

fn tsv_fields<'v>(fields: impl Iterator<Item = &'v Value>, out: &mut String) {
    for (i, field) in fields.enumerate() {
        if i > 0 {
            out.push('\t');
        }
        tsv_field(field, out);
    }
}

fn tsv_field(field: &Value, out: &mut String) {
    match field {
        Value::Null | Value::Object(_) => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => tsv_escape(s, out),
        // A nested array shows its length, as az does, so the row keeps one field per value.
        Value::Array(items) => out.push_str(&items.len().to_string()),
    }
}

fn tsv_escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::output::fixtures::{group, list, query};
    use crate::output::{Format, render};
    use serde_json::{Value, json};

    #[test]
    fn tsv_of_a_resource_group_is_one_row_with_empty_fields_for_objects() {
        let want = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-resource-group\t\
                    my-resource-group\tMicrosoft.Resources/resourceGroups\twestus2\t\t\n";
        assert_eq!(render(&group(), Format::Tsv), want);
    }

    #[test]
    fn tsv_of_the_swagger_resource_group_without_tags_has_one_empty_field() {
        // arm/resourcegroups-get-swagger-example-2025-04-01.json: no tags, so five fields.
        let rg = json!({
            "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-resource-group",
            "name": "my-resource-group",
            "type": "Microsoft.Resources/resourceGroups",
            "location": "westus2",
            "properties": {"provisioningState": "Succeeded"}
        });
        assert_eq!(
            render(&rg, Format::Tsv),
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/my-resource-group\t\
             my-resource-group\tMicrosoft.Resources/resourceGroups\twestus2\t\n"
        );
    }

    #[test]
    fn tsv_of_value_names_is_one_line_each() {
        let names = query("value[].name").apply(&list());
        assert_eq!(
            names.map(|v| render(&v, Format::Tsv)).as_deref(),
            Some("a\nb\nc\n")
        );
    }

    #[test]
    fn tsv_scalars_print_raw() {
        assert_eq!(render(&json!("Succeeded"), Format::Tsv), "Succeeded\n");
        assert_eq!(render(&json!(42), Format::Tsv), "42\n");
        assert_eq!(render(&json!(-1.5), Format::Tsv), "-1.5\n");
        assert_eq!(render(&json!(true), Format::Tsv), "true\n");
        assert_eq!(render(&json!(false), Format::Tsv), "false\n");
        assert_eq!(render(&Value::Null, Format::Tsv), "\n");
        assert_eq!(render(&json!("grüße 日本"), Format::Tsv), "grüße 日本\n");
    }

    #[test]
    fn tsv_rows_nest_arrays_as_length_and_objects_as_empty() {
        let v = json!([
            {"name": "a", "zones": ["1", "2"], "tags": {"x": "y"}, "n": null, "ok": true},
            ["b", 3, [1], {}],
            "plain",
            null,
            []
        ]);
        assert_eq!(
            render(&v, Format::Tsv),
            "a\t2\t\t\ttrue\nb\t3\t1\t\nplain\n\n\n"
        );
    }

    #[test]
    fn tsv_of_empty_array_is_nothing_and_empty_object_one_empty_line() {
        assert_eq!(render(&json!([]), Format::Tsv), "");
        assert_eq!(render(&json!({}), Format::Tsv), "\n");
    }

    #[test]
    fn tsv_of_a_list_keeps_the_first_items_columns_on_every_row() {
        // The second resource lists its keys in another order, lacks one and has one more.
        let v = json!([
            {"name": "a", "id": "/x/a", "type": "t"},
            {"id": "/x/b", "extra": "e", "name": "b"},
            "scalar",
            {"type": "t3"}
        ]);
        assert_eq!(
            render(&v, Format::Tsv),
            "a\t/x/a\tt\nb\t/x/b\t\nscalar\n\t\tt3\n"
        );
        // A single object is one row of its own keys.
        assert_eq!(render(&json!({"b": 1, "a": 2}), Format::Tsv), "1\t2\n");
    }

    #[test]
    fn tsv_escapes_what_would_break_rows() {
        let v =
            json!({"a": "tab\there", "b": "line\nbreak\r\n", "c": "C:\\dir", "d": "\\n literally"});
        assert_eq!(
            render(&v, Format::Tsv),
            "tab\\there\tline\\nbreak\\r\\n\tC:\\\\dir\t\\\\n literally\n"
        );
    }
}
