variable "name" {
  description = "The project's name, e.g. analytics-production."
  type        = string
}

variable "timezone" {
  description = "The project's IANA time zone."
  type        = string
  default     = "Etc/UTC"
}

variable "data_residency" {
  description = "us, eu or in; it never changes after creation."
  type        = string
  default     = "us"
}

variable "deletion_protection" {
  description = "Refuse to delete the project (set false for throw-away environments)."
  type        = bool
  default     = true
}

variable "team_roles" {
  description = "The project role each team gets here, keyed by a name of your choice."
  type = map(object({
    team_id = string
    role    = string
  }))
  default = {}
}

variable "individual_grants" {
  description = "The project's exact individual grants: e-mail address to role. Everyone else's individual grant is removed."
  type        = map(string)
  default     = {}
}

variable "max_removals" {
  description = "Refuse a plan that removes more individual grants than this."
  type        = number
  default     = 2
}
