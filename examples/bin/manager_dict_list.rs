//! See `multiproc_examples::scenarios` (manager_dict_list).
fn main() -> multiproc_examples::Outcome {
    (multiproc_examples::scenarios::ALL
        .iter()
        .find(|s| s.name == "manager_dict_list")
        .ok_or("scenario manager_dict_list is not registered")?
        .run)()
}
